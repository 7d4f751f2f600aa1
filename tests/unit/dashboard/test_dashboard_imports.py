"""The dashboard talks to the API only: no TensorFlow, Keras, ONNX Runtime or database driver in it."""

import subprocess
import sys

FORBIDDEN = ("tensorflow", "keras", "onnxruntime", "sqlalchemy", "psycopg2", "celery", "piano_ai.inference")


def test_the_dashboard_modules_import_no_ml_runtime_and_no_database():
    modules = [
        "client",
        "session",
        "views",
        "figures",
        "midi_tools",
        "audio_tools",
        "synthviz",
        "queue_tables",
    ]
    code = (
        "import sys\n"
        + "".join(f"import piano_dashboard.{name}\n" for name in modules)
        + f"print(sorted(m for m in {FORBIDDEN!r} if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.strip() == "[]"
