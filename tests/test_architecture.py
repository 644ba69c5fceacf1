"""The import contracts of pyproject.toml ([tool.importlinter]): demo > dashboards > whitelist, weather > certificates >
operators > trustspace, and the whitelist never reads the weather. import-linter counts every import statement,
at module level or inside a function."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("trustspace", "operators", "certificates", "whitelist", "weather", "dashboards", "demo")
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(cwd):
    """Run import-linter on the packages under ``cwd`` with its pyproject.toml; (exit code, output)."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    result = subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=300)
    return result.returncode, result.stdout + result.stderr


def test_the_layers_point_one_way():
    code, output = lint_imports(ROOT)
    assert code == 0, output


def _copy_of_the_code(target):
    """The Python files of every app and the contracts, as in the repository."""
    for app in APPS:
        for source in (ROOT / app).rglob("*.py"):
            destination = target / source.relative_to(ROOT)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, destination)
    shutil.copyfile(ROOT / "pyproject.toml", target / "pyproject.toml")


def test_an_upward_import_inside_a_function_breaks_the_contract(tmp_path):
    _copy_of_the_code(tmp_path)
    assert lint_imports(tmp_path)[0] == 0  # the copy alone keeps the contracts
    with (tmp_path / "trustspace" / "text.py").open("a") as module:
        module.write("\n\ndef _upward():\n    from operators.context import active_operator\n\n"
                     "    return active_operator\n")
    code, output = lint_imports(tmp_path)
    assert code != 0
    assert "trustspace is not allowed to import operators" in output
    assert "trustspace.text -> operators.context" in output


def test_the_whitelist_may_not_read_the_weather(tmp_path):
    _copy_of_the_code(tmp_path)
    with (tmp_path / "whitelist" / "__init__.py").open("a") as module:
        module.write("\nimport weather.clock  # noqa\n")
    code, output = lint_imports(tmp_path)
    assert code != 0
    assert "whitelist is not allowed to import weather" in output
