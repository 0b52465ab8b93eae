"""The package's layering: each module imports only from floors below its own (or its own
subpackage); the tests' directories mirror the package's; configs load and every verb's --help
answers without TensorFlow."""

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO

PACKAGE = REPO / "sagan_tf"
FLOORS = {
    "errors": 0, "config": 0, "architectures": 0, "files": 0, "images": 0, "locks": 0, "interrupts": 0,
    "cluster": 0, "pretrained": 0, "ops_choice": 0, "moved": 0,
    "ops": 1, "tracking": 1,
    "layers": 2, "data": 2, "augment": 2,
    "models": 3,
    "training": 4,
    "runs": 5,
    "serving": 6,
    "evaluation": 7,  # measures what serving loads: runs, exports, shipped generators
    "explore": 8, "trainer": 8,
    "cli": 9,  # the verbs
    "train": 10,  # the ``python -m sagan_tf.train`` launcher of ``cli.train``
}
VERBS = ["cli.train", "cli.sample", "cli.evaluate", "cli.visualize", "cli.export", "cli.explore",
         "cli.train_feature_model", "cli.build_pretrained", "train"]


def unit_of(module: str) -> str:
    """``sagan_tf.training.gan`` -> ``training``; ``sagan_tf.cli.train`` -> ``cli``; the plain-Python
    modules of floor 0 form one unit (``base``)."""
    unit = module.split(".")[1]
    return "base" if FLOORS.get(unit) == 0 else unit


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """Every sagan_tf module the file imports, at the top or inside functions."""
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("sagan_tf."))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "sagan_tf":
                found.update(f"sagan_tf.{alias.name}" for alias in node.names)
            elif node.module.startswith("sagan_tf."):
                found.add(node.module)
    return found


def test_every_module_has_a_floor_and_imports_only_from_lower_floors_or_its_own_unit():
    violations, modules = [], sorted(PACKAGE.rglob("*.py"))
    assert len(modules) > 40
    for path in modules:
        name = module_name(path)
        if name == "sagan_tf":
            continue
        assert name.split(".")[1] in FLOORS, f"{name} is not assigned a floor in tests/test_layout.py"
        for target in imported_modules(path):
            floor, other_floor = FLOORS[name.split(".")[1]], FLOORS[target.split(".")[1]]
            if unit_of(target) != unit_of(name) and other_floor >= floor:
                violations.append(f"{name} (floor {floor}) imports {target} (floor {other_floor})")
    assert not violations, "\n".join(violations)


TEST_SUPPORT = {"helpers", "assets", "__pycache__"}  # shared test code and data, not tests of a module


def test_test_directories_mirror_the_package_and_the_top_level_tools():
    """tests/X/ holds the tests of sagan_tf/X/ (or of the top-level benchmarks/ and export/)."""
    tests = REPO / "tests"
    directories = [p for p in tests.rglob("*") if p.is_dir() and not TEST_SUPPORT & set(p.relative_to(tests).parts)]
    assert len(directories) >= 10
    for directory in directories:
        relative = directory.relative_to(tests)
        mirrored = PACKAGE / relative if (PACKAGE / relative).is_dir() else REPO / relative
        assert mirrored.is_dir(), f"tests/{relative} mirrors no directory of sagan_tf/ or of the repository"
        assert (directory / "__init__.py").exists(), f"tests/{relative} has no __init__.py"


def test_the_layer_rule_catches_an_upward_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from sagan_tf.training.gan import SAGAN\n    from sagan_tf import cli\n")
    assert imported_modules(bad) == {"sagan_tf.training.gan", "sagan_tf.cli"}


def run_python(code: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_loading_every_builtin_config_does_not_import_tensorflow(tmp_path):
    result = run_python(
        "import sys\n"
        "from sagan_tf import config\n"
        "names = config.builtin_names()\n"
        "for name in names:\n"
        "    config.load(name)\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, sorted(sys.modules)\n"
        "print(len(names))\n",
        cwd=tmp_path,  # built-in names resolve from any directory
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert int(result.stdout) >= 8


HELP_PROBE = """
import argparse, runpy, sys

def undocumented(parser):
    out = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                out += undocumented(sub)
        elif action.option_strings and action.dest != "help" and not action.help:
            out.append(action.option_strings[0])
    return out

original = argparse.ArgumentParser.parse_args

def parse_args(self, *args, **kwargs):
    print("undocumented:", ",".join(undocumented(self)), file=sys.stderr)
    return original(self, *args, **kwargs)

argparse.ArgumentParser.parse_args = parse_args
sys.argv = ["x", "--help"]
try:
    runpy.run_module("sagan_tf.{verb}", run_name="__main__")
except SystemExit as e:
    assert e.code == 0, e.code
assert "tensorflow" not in sys.modules, "imported tensorflow"
assert not [m for m in ("fastapi", "starlette", "uvicorn") if m in sys.modules], "imported the web framework"
"""


@pytest.mark.parametrize("verb", VERBS)
def test_help_answers_without_tensorflow_and_documents_every_flag(verb):
    result = run_python(HELP_PROBE.format(verb=verb))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "undocumented: \n" in result.stderr, result.stderr
    usage = "usage: python -m sagan_tf.cli.build_pretrained" if verb == "cli.build_pretrained" else "usage: sagan-"
    assert "``" not in result.stdout and usage in result.stdout


LAYOUT_PAGE = REPO / "docs" / "layout.md"


def documented_modules(text: str) -> dict[str, set[str]]:
    """The words of each section of docs/layout.md's tree: a line indented by two spaces starts a
    section, a package's (``cluster/``, ``evaluation/metrics/``) when its first word ends with "/",
    else the top-level modules' (section ""); more indented lines continue it."""
    block = text.split("```", 2)[1]
    sections: dict[str, set[str]] = {"": set()}
    current = ""
    for line in block.splitlines()[2:]:  # after "```" and "sagan_tf/"
        words = line.split()
        if not words:
            continue
        if line.startswith("  ") and not line.startswith("   "):
            current = words[0] if words[0].endswith("/") else ""
            sections.setdefault(current, set())
        elif not line.startswith(" "):  # configs/, tests/, ...: the repository, not the package
            current = None
            continue
        if current is not None:
            sections[current] |= set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", line))
    return sections


def test_the_layout_page_names_every_module():
    sections = documented_modules(LAYOUT_PAGE.read_text())
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts[-1] == "__init__" and len(parts) > 1:
            continue
        section = "/".join(parts[:-1]) + "/" if len(parts) > 1 else ""
        if parts[-1] not in sections.get(section, set()):
            missing.append(".".join(parts))
    assert not missing, f"docs/layout.md does not name: {', '.join(missing)}"
    stale = [s for s in sections if s and not (PACKAGE / s).is_dir()]
    assert not stale, f"docs/layout.md names packages that do not exist: {stale}"


def test_the_layout_check_finds_a_missing_module():
    text = LAYOUT_PAGE.read_text().replace(" compare_ops ", " ")
    assert "compare_ops" not in documented_modules(text)["training/"]
