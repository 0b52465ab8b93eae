// The sagan-explore page: asks the app's /api/* for images and attention (sagan_tf/explore/app.py)
// and shows them. Plain JavaScript, no libraries: everything the page loads comes from the app.
"use strict";

const $ = (id) => document.getElementById(id);
const state = {
  info: null,
  selected: null, // {spec, x, y, element}: the image whose attention is shown
  requests: { grid: 0, attention: 0, frames: 0 }, // the latest request of each kind wins
  pending: 0, // requests in flight: body[data-busy] while there are any
  errorFrom: null, // what the shown message is about: only that kind's next success hides it
};
const SAMPLE_SIZE = 96; // displayed size of a grid image, in CSS pixels (rounded to a whole zoom)
const QUERY_SIZE = 256; // displayed size of the selected image

class ApiError extends Error {}

function zoomFor(target) {
  return Math.max(1, Math.round(target / state.info.resolution));
}

async function api(path, params) {
  let response;
  try {
    response = await fetch(`${path}?${new URLSearchParams(params)}`);
  } catch (error) {
    throw new ApiError("the app does not answer: is sagan-explore still running?");
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    throw new ApiError(body && body.error ? body.error : `the app answered ${response.status} ${response.statusText}`);
  }
  return body;
}

// One request of a kind at a time on screen: a slower, older answer never replaces a newer one.
async function latest(kind, path, params, show) {
  const id = ++state.requests[kind];
  state.pending += 1;
  document.body.dataset.busy = "true";
  try {
    const data = await api(path, params);
    if (id !== state.requests[kind]) return;
    clearError(kind);
    show(data);
  } catch (error) {
    if (id !== state.requests[kind]) return;
    showError(kind, error instanceof ApiError ? error.message : `unexpected answer: ${error.message}`);
  } finally {
    state.pending -= 1;
    if (state.pending === 0) delete document.body.dataset.busy;
  }
}

// One message at a time, owned by what caused it (a request kind, "use", "info"): a grid that loads
// does not hide what was wrong with the interpolation, or the other way round.
function showError(from, message) {
  const box = $("message");
  box.textContent = message;
  box.hidden = false;
  state.errorFrom = from;
}

function clearError(from) {
  if (state.errorFrom !== from) return;
  const box = $("message");
  box.hidden = true;
  box.textContent = "";
  state.errorFrom = null;
}

function className(label) {
  return state.info.classes[label] ? state.info.classes[label].name : `class ${label}`;
}

function fillClassSelect(select, withAll) {
  select.replaceChildren();
  if (withAll) select.append(new Option("all classes", "all"));
  for (const c of state.info.classes) select.append(new Option(`${c.label} · ${c.name}`, String(c.label)));
}

function element(tag, props = {}, children = []) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

function pixelImage(src, size, alt) {
  const img = element("img", { src, alt, className: "pixelated" });
  img.width = size;
  img.height = size;
  return img;
}

// The image pixel (x, y) under a mouse event on an element showing the whole image.
function pixelAt(event, target) {
  const rect = target.getBoundingClientRect();
  const n = state.info.resolution;
  const clamp = (v) => Math.min(n - 1, Math.max(0, v));
  return {
    x: clamp(Math.floor(((event.clientX - rect.left) / rect.width) * n)),
    y: clamp(Math.floor(((event.clientY - rect.top) / rect.height) * n)),
  };
}

// ---- samples -------------------------------------------------------------------------------------

function truncationParam(params) {
  const t = $("truncation").value.trim();
  if (t !== "") params.truncation = t;
  return params;
}

function gridParams() {
  const params = { seed: $("seed").value.trim(), count: $("count").value.trim() };
  if ($("class").value !== "all") params.label = $("class").value;
  return truncationParam(params);
}

function loadGrid() {
  const params = gridParams();
  return latest("grid", "/api/grid", params, (data) => {
    showGrid(data);
    $("grid-download").href = `/api/grid.png?${new URLSearchParams(params)}`;
  });
}

function showGrid(data) {
  const size = zoomFor(SAMPLE_SIZE) * state.info.resolution;
  const rows = data.rows.map((row) => {
    const cells = row.images.map((item) => {
      const img = pixelImage(item.png, size, `seed ${item.seed}, ${row.name}`);
      Object.assign(img.dataset, { seed: item.seed, label: row.label });
      const spec = { seed: item.seed, label: row.label, truncation: data.truncation };
      img.addEventListener("click", (event) => {
        const { x, y } = pixelAt(event, img);
        select(spec, x, y, img);
      });
      return element("figure", { className: "sample" }, [img, element("figcaption", { textContent: `seed ${item.seed}` })]);
    });
    return element("div", { className: "grid-row" }, [
      element("span", { className: "row-name", textContent: `${row.label} · ${row.name}` }),
      ...cells,
    ]);
  });
  $("grid").replaceChildren(...rows);
  $("grid").dataset.seeds = data.seeds.join(",");
}

function stepSeed(direction) {
  const seed = Number($("seed").value.trim());
  const count = Number($("count").value.trim());
  if (Number.isSafeInteger(seed) && Number.isSafeInteger(count) && count > 0) {
    $("seed").value = String(Math.max(0, seed + direction * count));
  }
  loadGrid(); // an unreadable seed or count is reported by the app
}

// ---- attention -----------------------------------------------------------------------------------

function specParams(spec) {
  const params = { seed: spec.seed, label: spec.label };
  if (spec.t !== undefined) Object.assign(params, { seed_b: spec.seed_b, label_b: spec.label_b, t: spec.t, path: spec.path });
  if (spec.truncation !== null && spec.truncation !== undefined) params.truncation = spec.truncation;
  return params;
}

function describe(spec) {
  const truncation = spec.truncation === null || spec.truncation === undefined ? "" : ` · truncation ${spec.truncation}`;
  if (spec.t === undefined) return `seed ${spec.seed} · ${className(spec.label)}${truncation}`;
  return `t = ${spec.t.toFixed(3)} from seed ${spec.seed} · ${className(spec.label)} to seed ${spec.seed_b} · `
    + `${className(spec.label_b)} (${spec.path})${truncation}`;
}

function select(spec, x, y, img) {
  if (state.selected && state.selected.element) state.selected.element.classList.remove("selected");
  if (img) img.classList.add("selected");
  state.selected = { spec, x, y, element: img || (state.selected && state.selected.element) };
  clearError("use"); // there is a selection now
  return latest("attention", "/api/attention", { ...specParams(spec), x, y }, (data) => showAttention(spec, data));
}

function moveQuery(event, target) {
  if (!state.selected) return;
  const { x, y } = pixelAt(event, target);
  select(state.selected.spec, x, y, null);
}

function placeBox(box, left, top, width, height) {
  Object.assign(box.style, { left: `${left}px`, top: `${top}px`, width: `${width}px`, height: `${height}px` });
}

function showAttention(spec, data) {
  const n = state.info.resolution;
  const zoom = zoomFor(QUERY_SIZE);
  $("attention-empty").hidden = true;
  const view = $("attention-view");
  view.hidden = false;
  view.dataset.query = `${data.x},${data.y}`;
  $("attention-caption").textContent = `${describe(spec)} · query pixel (${data.x}, ${data.y})`;
  const image = $("attention-image");
  image.src = data.image;
  image.width = n * zoom;
  image.height = n * zoom;
  placeBox($("query-pixel"), data.x * zoom, data.y * zoom, zoom, zoom);
  $("image-download").href = `/api/image.png?${new URLSearchParams(specParams(spec))}`;
  if (data.layers.length === 0) {
    $("layers").replaceChildren(element("p", { className: "muted",
      textContent: "This generator has no attention layers: there is nothing to show." }));
    return;
  }
  $("layers").replaceChildren(...data.layers.map((layer) => layerFigure(layer, data)));
}

function layerFigure(layer, data) {
  const size = state.info.resolution * data.scale;
  const picture = pixelImage(layer.picture, size, `attention of ${layer.name} for pixel (${data.x}, ${data.y})`);
  picture.classList.add("overlay");
  const cell = element("div", { className: "query-cell" });
  const [x0, y0, x1, y1] = layer.query_box;
  placeBox(cell, x0 * data.scale, y0 * data.scale, (x1 - x0) * data.scale, (y1 - y0) * data.scale);
  const frame = element("div", { className: "frame" }, [picture, cell]);
  const readout = element("p", { className: "readout muted", textContent: "hover the map to read its values" });
  const [hk, wk] = layer.key_grid;
  picture.addEventListener("mousemove", (event) => {
    const rect = picture.getBoundingClientRect();
    const kx = Math.min(wk - 1, Math.floor(((event.clientX - rect.left) / rect.width) * wk));
    const ky = Math.min(hk - 1, Math.floor(((event.clientY - rect.top) / rect.height) * hk));
    const value = layer.row[ky * wk + kx];
    readout.textContent = `key cell (${ky}, ${kx}): ${value.toPrecision(4)} (${((100 * value) / layer.max).toFixed(0)}% of the maximum)`;
  });
  picture.addEventListener("click", (event) => moveQuery(event, picture));
  const [qr, qc] = layer.query_cell;
  const [ph, pw] = layer.key_cell_pixels;
  const download = element("a", { href: layer.picture, textContent: "PNG",
    download: `${data.filename}_${layer.name}_x${data.x}_y${data.y}.png` });
  const facts = element("p", { className: "facts" }, [
    `query cell (${qr}, ${qc}) of ${layer.query_grid.join("×")} · keys ${hk}×${wk} (cells of ${ph}×${pw} px) · `
    + `strongest key (${layer.argmax.join(", ")}) · `, download]);
  const scale = element("div", { className: "scale" }, [
    element("span", { textContent: "0" }),
    element("img", { src: "/api/colorbar.png", alt: "colour scale" }),
    element("span", { className: "max", textContent: layer.max.toPrecision(3) }),
  ]);
  const figure = element("figure", { className: "layer" }, [
    element("h3", { textContent: layer.name }), frame, scale, readout, facts]);
  Object.assign(figure.dataset, { layer: layer.name, x: data.x, y: data.y });
  return figure;
}

function useSelected(which) {
  const chosen = state.selected && state.selected.spec;
  if (!chosen) {
    showError("use", "select an image first: click a pixel of a sample");
    return;
  }
  if (chosen.t !== undefined && chosen.t !== 0) {
    showError("use", "the selected image is an interpolation frame; select a sample or an end of the row");
    return;
  }
  clearError("use");
  $(`seed-${which}`).value = String(chosen.seed);
  $(`class-${which}`).value = String(chosen.label);
}

// ---- interpolation -------------------------------------------------------------------------------

function interpolationParams() {
  return truncationParam({
    seed: $("seed-a").value.trim(), label: $("class-a").value,
    seed_b: $("seed-b").value.trim(), label_b: $("class-b").value,
    frames: $("frames-count").value.trim(), path: $("path").value,
  });
}

function loadFrames() {
  const params = interpolationParams();
  return latest("frames", "/api/interpolation", params, (data) => {
    showFrames(data);
    const link = $("frames-download");
    link.href = `/api/interpolation.png?${new URLSearchParams(params)}`;
    link.hidden = false;
  });
}

function showFrames(data) {
  const size = zoomFor(SAMPLE_SIZE) * state.info.resolution;
  const cells = data.frames.map((frame, i) => {
    const img = pixelImage(frame.png, size, `frame ${i + 1}, t = ${frame.t}`);
    img.dataset.t = frame.t;
    const spec = { seed: data.from.seed, label: data.from.label, seed_b: data.to.seed, label_b: data.to.label,
      t: frame.t, path: data.path, truncation: data.truncation };
    img.addEventListener("click", (event) => {
      const { x, y } = pixelAt(event, img);
      select(spec, x, y, img);
    });
    return element("figure", { className: "frame-cell" }, [img, element("figcaption", { textContent: `t = ${frame.t.toFixed(2)}` })]);
  });
  $("frames").replaceChildren(...cells);
}

// ---- start ---------------------------------------------------------------------------------------

function bind() {
  $("grid-form").addEventListener("submit", (event) => {
    event.preventDefault();
    loadGrid();
  });
  for (const id of ["class", "count", "seed", "truncation"]) $(id).addEventListener("change", loadGrid);
  $("prev").addEventListener("click", () => stepSeed(-1));
  $("next").addEventListener("click", () => stepSeed(1));
  $("random").addEventListener("click", () => {
    $("seed").value = String(Math.floor(Math.random() * 2 ** 31));
    loadGrid();
  });
  const slider = $("truncation-slider");
  slider.addEventListener("input", () => { $("truncation").value = Number(slider.value).toFixed(2); });
  slider.addEventListener("change", loadGrid);
  $("interpolation-form").addEventListener("submit", (event) => {
    event.preventDefault();
    loadFrames();
  });
  $("use-a").addEventListener("click", () => useSelected("a"));
  $("use-b").addEventListener("click", () => useSelected("b"));
  $("query-frame").addEventListener("click", (event) => moveQuery(event, $("attention-image")));
}

async function start() {
  try {
    state.info = await api("/api/info", {});
  } catch (error) {
    showError("info", `cannot read the model: ${error.message}`);
    return;
  }
  const info = state.info;
  const layers = info.attention.map((a) => `${a.name} (${a.query_grid.join("×")} queries, ${a.key_grid.join("×")} keys)`);
  $("source").textContent = `${info.source} · ${info.resolution}×${info.resolution}, `
    + `${info.num_classes || "no"} classes · attention: ${layers.join(", ") || "none"}`;
  fillClassSelect($("class"), true);
  fillClassSelect($("class-a"), false);
  fillClassSelect($("class-b"), false);
  if (info.classes.length * Number($("count").value) > info.limits.max_grid) $("class").value = "0";
  $("class-b").value = String(Math.min(1, info.classes.length - 1));
  $("count").max = info.limits.max_count;
  $("frames-count").max = info.limits.max_frames;
  bind();
  document.body.dataset.ready = "true";
  // One after the other: the first grid (up to MAX_GRID images) may hold the app's whole image
  // budget, and an interpolation asked for beside it would wait and could be refused as busy.
  await loadGrid();
  await loadFrames();
}

document.addEventListener("DOMContentLoaded", start);
