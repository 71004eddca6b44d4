"""The core stays headless and cheap to import."""
from __future__ import annotations

import subprocess
import sys

from conftest import REPO

MODEL_MODULES = [p.stem for p in (REPO / "model").glob("*.py") if p.stem != "__init__"]


def _modules_after(code: str) -> set[str]:
    script = f"import sys\n{code}\nprint('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_model_package_never_imports_qt_or_tensorflow_at_import_time():
    imports = "\n".join(f"import model.{name}" for name in MODEL_MODULES)
    loaded = _modules_after(imports)
    assert len(MODEL_MODULES) >= 10
    assert not any(m == "PySide6" or m.startswith("PySide6.") for m in loaded)
    assert "tensorflow" not in loaded and "keras" not in loaded


def test_gui_package_and_help_do_not_import_tensorflow():
    loaded = _modules_after("import gui, main")
    assert "tensorflow" not in loaded and "keras" not in loaded
    out = subprocess.run([sys.executable, "main.py", "--help"], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0 and "train" in out.stdout and "predict" in out.stdout


def test_model_code_uses_keras_api_not_tensorflow():
    """Only model/backend.py may reach into TensorFlow, and only behind a check of the backend."""
    import ast

    for path in (REPO / "model").glob("*.py"):
        text = path.read_text()
        if path.name == "backend.py":
            continue
        assert "import tensorflow" not in text and "tf." not in text and '"tensorflow.' not in text, path
    source = (REPO / "model" / "backend.py").read_text()
    reaching_in = [node for node in ast.walk(ast.parse(source)) if isinstance(node, ast.FunctionDef)
                   and any(s in ast.get_source_segment(source, node) for s in ("import tensorflow", '"tensorflow.'))]
    assert reaching_in  # the check below must have something to check
    for node in reaching_in:
        assert 'backend.backend() != "tensorflow"' in ast.get_source_segment(source, node), node.name
