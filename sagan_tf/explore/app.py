"""The web app of ``sagan-explore``: a FastAPI application serving the page and its API.

The page (``static/index.html``, ``explore.js``, ``explore.css``) is served by the app itself and
loads nothing from elsewhere, so it works offline. The API (all GET, parameters in the query):

``/api/info``                 the model: resolution, classes and their names, attention layers, limits
``/api/grid``                 one row per class (``label``, default all), ``count`` seeds from ``seed``:
                              JSON with PNG data URLs; ``/api/grid.png`` the same grid as one PNG
``/api/interpolation``        ``frames`` images from (seed, label) to (seed_b, label_b); ``.png``: one row
``/api/image.png``            one image: (seed, label), or the point ``t`` of an interpolation
``/api/attention``            that image and, per attention layer, the beta row (eq. 1) of the query
                              pixel (x, y) with its picture as ``sagan-visualize attention`` draws it
``/api/colorbar.png``         the colour scale of the attention pictures (0 to the picture's maximum)

``truncation`` (>= ``serving.inputs.MIN_TRUNCATION``, absent: none) applies to every image. Every answer
other than an image or the page is JSON; every refusal is ``{"error": "<one sentence>"}``, which
the page shows:

* 400: a request the model cannot answer (a wrong type, a label out of range, a truncation below
  the minimum or not a number, a pixel outside the image, more images than the limits);
* 403: a ``Host`` header that names no address of the app (``hosts.HostCheck``, DNS rebinding);
* 404 and 405: no such path, or not a GET;
* 503 with ``Retry-After``: the images in flight across all requests are at ``Limits.max_images``
  and the request's did not fit within ``Limits.wait_seconds`` (``budget.ImageBudget``).

A request holds its images in the budget from its first generator call until its answer is
encoded, and its generator calls take at most ``Limits.batch`` images each. Handlers are plain
functions, which FastAPI runs in its thread pool (``Limits.max_connections`` threads, as many as
uvicorn admits connections): concurrent requests run the TensorFlow functions in parallel.
"""

from __future__ import annotations

import base64
import contextlib
import math
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from fastapi import Depends, FastAPI, Query
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from sagan_tf.evaluation.attention_maps import colorize
from sagan_tf.explore import views
from sagan_tf.explore.budget import Busy, ImageBudget
from sagan_tf.explore.hosts import HostCheck, HostRule, loopback_rule
from sagan_tf.explore.limits import Limits
from sagan_tf.explore.views import ImageSpec, RequestError
from sagan_tf.images import make_grid, png_bytes
from sagan_tf.serving.generators import TrainedGenerator
from sagan_tf.serving.inputs import MIN_TRUNCATION

STATIC = Path(__file__).resolve().parent / "static"

Seed = Annotated[int, Query(ge=0, le=views.MAX_SEED, description="seed of z (generate_truncated's Philox draw)")]
Label = Annotated[int, Query(description="class")]
OptionalSeed = Annotated[int | None, Query(ge=0, le=views.MAX_SEED, description="seed at t = 1 (default: seed)")]
OptionalLabel = Annotated[int | None, Query(description="class at t = 1 (default: label)")]
Truncation = Annotated[float | None, Query(ge=MIN_TRUNCATION,
                                           description="truncate z to [-t, t]; absent or inf: no truncation")]
Fraction = Annotated[float, Query(ge=0, le=1, allow_inf_nan=False, description="point of the interpolation, 0 to 1")]
PathName = Annotated[Literal[views.PATHS], Query(description="interpolation of z: spherical or linear")]
Pixel = Annotated[int, Query(description="query pixel, from the left (x) or the top (y)")]
Count = Annotated[int, Query(ge=1, le=views.MAX_COUNT, description="images per row (consecutive seeds)")]
GridLabel = Annotated[int | None, Query(description="class of the row (default: one row per class)")]
Frames = Annotated[int, Query(ge=2, le=views.MAX_FRAMES, description="number of frames, both ends included")]
Scale = Annotated[int | None, Query(ge=1, le=views.MAX_SCALE, description="pixel repetition of the pictures")]

REASONS = {
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "int_type": "must be an integer",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "finite_number": "must be a finite number",
    "missing": "is required",
}


def validation_message(error: RequestValidationError) -> str:
    """One sentence for the first invalid parameter: ``seed must be an integer, got 'abc'``."""
    first = error.errors()[0]
    name = first["loc"][-1] if first.get("loc") else "a parameter"
    kind, ctx = first.get("type", ""), first.get("ctx") or {}
    bounds = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}
    if kind in bounds:
        limit = next(iter(ctx.values()), "")
        reason = f"must be {bounds[kind]} {limit:g}" if isinstance(limit, float) else f"must be {bounds[kind]} {limit}"
    elif kind == "literal_error":
        reason = f"must be {ctx.get('expected', 'one of the allowed values')}"
    else:
        reason = REASONS.get(kind, first.get("msg", "is invalid").lower())
    return f"{name} {reason}" if kind == "missing" else f"{name} {reason}, got {first.get('input')!r}"


def http_message(request, error: HTTPException) -> str:
    if error.status_code == 404:
        return f"there is no page {request.url.path}: the API is under /api/ (see /api/info)"
    if error.status_code == 405:
        return f"{request.method} is not allowed here: the API answers GET requests"
    return str(error.detail)


def data_url(image: np.ndarray) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(image)).decode("ascii")


def png_response(image: np.ndarray, filename: str) -> Response:
    return Response(png_bytes(image), media_type="image/png",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def truncation_value(truncation: float | None) -> float:
    return math.inf if truncation is None else truncation


def truncation_json(truncation: float) -> float | None:
    return None if math.isinf(truncation) else truncation


def image_spec(
    seed: Seed = 0, label: Label = 0, seed_b: OptionalSeed = None, label_b: OptionalLabel = None, t: Fraction = 0.0,
    truncation: Truncation = None, path: PathName = "spherical",
) -> ImageSpec:
    return ImageSpec(seed, label, seed_b, label_b, t, truncation_value(truncation), path)


def spec_name(spec: ImageSpec) -> str:
    """A file name for the image of ``spec``."""
    name = f"sagan_seed{spec.seed}_class{spec.label}"
    if spec.end != (spec.seed, spec.label) and spec.t > 0:
        name += f"_to_seed{spec.end[0]}_class{spec.end[1]}_t{spec.t:.3f}"
    return name + ("" if math.isinf(spec.truncation) else f"_trunc{spec.truncation:g}")


def create_app(generator: TrainedGenerator, limits: Limits | None = None, hosts: HostRule | None = None) -> FastAPI:
    """The application around ``generator`` (``serving.generators.load_export`` or ``load_run``), within
    ``limits`` (default ``Limits()``), answering the ``Host`` names of ``hosts`` (default: the
    loopback names at any port; ``server.serving_hosts`` gives the rule of a bound socket).

    ``app.state.budget`` is the ``budget.ImageBudget`` every image request holds its images in.
    """
    info = generator.info
    limits = limits or Limits()
    budget = ImageBudget(limits.max_images, limits.wait_seconds)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        import anyio.to_thread

        # One thread per admitted connection: a request never queues for a thread unseen, it waits
        # (at most wait_seconds) only for the budget.
        anyio.to_thread.current_default_thread_limiter().total_tokens = limits.max_connections
        yield

    app = FastAPI(title="sagan-explore", docs_url=None, redoc_url=None, lifespan=lifespan)  # /docs loads from a CDN
    app.state.budget = budget
    app.state.limits = limits
    app.add_middleware(HostCheck, rule=hosts or loopback_rule())
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(RequestError)
    def bad_request(request, error: RequestError):
        return JSONResponse({"error": str(error)}, status_code=400)

    @app.exception_handler(RequestValidationError)
    def invalid_parameter(request, error: RequestValidationError):
        return JSONResponse({"error": validation_message(error)}, status_code=400)

    @app.exception_handler(Busy)
    def busy(request, error: Busy):
        return JSONResponse({"error": str(error)}, status_code=503, headers={"Retry-After": str(limits.retry_after)})

    @app.exception_handler(HTTPException)
    def http_error(request, error: HTTPException):
        return JSONResponse({"error": http_message(request, error)}, status_code=error.status_code, headers=error.headers)

    @app.exception_handler(Exception)
    def server_error(request, error: Exception):  # the traceback goes to the server's log
        return JSONResponse({"error": f"the app failed on this request ({type(error).__name__}); its log says why"},
                            status_code=500)

    def batch(slots: int) -> int:
        """Images per generator call for a request holding ``slots`` images of the budget."""
        return min(limits.batch, slots)

    @app.get("/", include_in_schema=False)
    def page():
        return FileResponse(STATIC / "index.html")

    @app.get("/api/info")
    def model_info():
        return {
            "source": info.source,
            "resolution": info.resolution,
            "channels": info.channels,
            "num_classes": info.num_classes,
            "z_dim": info.z_dim,
            "classes": [{"label": c, "name": info.class_name(c)} for c in range(info.label_count)],
            "attention": [
                {"name": a.name, "query_grid": list(a.query_grid), "key_grid": list(a.key_grid)} for a in info.attention
            ],
            "limits": {"max_seed": views.MAX_SEED, "max_count": views.MAX_COUNT, "max_grid": views.MAX_GRID,
                       "max_frames": views.MAX_FRAMES, "max_scale": views.MAX_SCALE,
                       "min_truncation": MIN_TRUNCATION, **limits.as_json()},
            "paths": list(views.PATHS),
        }

    def grid_request(label: int | None, seed: int, count: int) -> tuple[list[int], list[int]]:
        """(labels, seeds) of a grid, checked before it takes any capacity."""
        labels = list(range(info.label_count)) if label is None else [label]
        for c in labels:
            views.check_label(c, info)
        if len(labels) * count > views.MAX_GRID:
            raise RequestError(
                f"a grid holds at most {views.MAX_GRID} images: {len(labels)} classes x {count} seeds is too many"
            )
        if seed + count - 1 > views.MAX_SEED:
            raise RequestError(f"seeds must be <= {views.MAX_SEED}: seed + count - 1 is {seed + count - 1}")
        return labels, list(range(seed, seed + count))

    @app.get("/api/grid")
    def grid(label: GridLabel = None, seed: Seed = 0, count: Count = 8, truncation: Truncation = None):
        t = truncation_value(truncation)
        labels, seeds = grid_request(label, seed, count)
        with budget.hold(len(labels) * len(seeds)) as slots:
            images = views.grid(generator, labels, seeds, t, batch(slots))
            rows = [
                {"label": c, "name": info.class_name(c),
                 "images": [{"seed": s, "png": data_url(images[r, k])} for k, s in enumerate(seeds)]}
                for r, c in enumerate(labels)
            ]
        return {"rows": rows, "seeds": seeds, "truncation": truncation_json(t)}

    @app.get("/api/grid.png")
    def grid_png(label: GridLabel = None, seed: Seed = 0, count: Count = 8, truncation: Truncation = None):
        labels, seeds = grid_request(label, seed, count)
        which = "all_classes" if label is None else f"class{label}"
        with budget.hold(len(labels) * len(seeds)) as slots:
            images = views.grid(generator, labels, seeds, truncation_value(truncation), batch(slots))
            picture = make_grid(images.reshape(-1, *images.shape[2:]), cols=len(seeds))
            return png_response(picture, f"sagan_grid_{which}_seeds{seeds[0]}-{seeds[-1]}.png")

    def interpolation_slots(spec: ImageSpec, frames: int) -> int:
        views.check_spec(spec, info)
        return views.images_needed(views.interpolation_specs(spec, frames))

    @app.get("/api/interpolation")
    def interpolation(spec: Annotated[ImageSpec, Depends(image_spec)], frames: Frames = 8):
        with budget.hold(interpolation_slots(spec, frames)) as slots:
            times, images = views.interpolation(generator, spec, frames, batch(slots))
            pictures = [{"t": t, "png": data_url(image)} for t, image in zip(times, images, strict=True)]
        return {
            "frames": pictures,
            "from": {"seed": spec.seed, "label": spec.label, "name": info.class_name(spec.label)},
            "to": {"seed": spec.end[0], "label": spec.end[1], "name": info.class_name(spec.end[1])},
            "truncation": truncation_json(spec.truncation),
            "path": spec.path,
        }

    @app.get("/api/interpolation.png")
    def interpolation_png(spec: Annotated[ImageSpec, Depends(image_spec)], frames: Frames = 8):
        end = ImageSpec(spec.seed, spec.label, *spec.end, 1.0, spec.truncation)
        with budget.hold(interpolation_slots(spec, frames)) as slots:
            _, images = views.interpolation(generator, spec, frames, batch(slots))
            return png_response(make_grid(images, cols=frames), f"{spec_name(end)}_{frames}frames.png")

    @app.get("/api/image.png")
    def image_png(spec: Annotated[ImageSpec, Depends(image_spec)]):
        views.check_spec(spec, info)
        with budget.hold(views.images_needed([spec])) as slots:
            return png_response(views.render(generator, [spec], batch(slots))[0], f"{spec_name(spec)}.png")

    @app.get("/api/attention")
    def attention(spec: Annotated[ImageSpec, Depends(image_spec)], x: Pixel, y: Pixel, scale: Scale = None):
        scale = scale or views.default_scale(info.resolution)
        views.check_spec(spec, info)
        views.check_point(x, y, info)
        with budget.hold(views.images_needed([spec])) as slots:
            image, layers = views.attention(generator, spec, x, y, scale, batch(slots))
            out = [layer_json(layer) for layer in layers]
            picture = data_url(image)
        return {"image": picture, "x": x, "y": y, "scale": scale, "layers": out, "filename": spec_name(spec)}

    def layer_json(layer: views.LayerAttention) -> dict:
        (hq, wq), (hk, wk) = layer.query_grid, layer.key_grid
        r, c = divmod(layer.query_row, wq)
        cell_h, cell_w = info.resolution // hq, info.resolution // wq
        peak = int(np.argmax(layer.row))
        return {
            "name": layer.name,
            "query_grid": [hq, wq],
            "key_grid": [hk, wk],
            "query_row": layer.query_row,
            "query_cell": [r, c],
            "query_box": [c * cell_w, r * cell_h, (c + 1) * cell_w, (r + 1) * cell_h],
            "key_cell_pixels": [info.resolution // hk, info.resolution // wk],
            "row": [float(v) for v in layer.row],
            "max": float(layer.row.max()),
            "argmax": [peak // wk, peak % wk],
            "picture": data_url(layer.picture),
        }

    @app.get("/api/colorbar.png", include_in_schema=False)
    def colorbar():
        ramp = colorize(np.linspace(0.0, 1.0, 256))[None].repeat(12, axis=0)
        return Response(png_bytes(ramp), media_type="image/png", headers={"Cache-Control": "max-age=3600"})

    return app
