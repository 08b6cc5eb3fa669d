"""README.md's function table is generated from the code and must stay in sync."""
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "ci"))

import api_table  # noqa: E402


def test_readme_function_table_matches_the_code():
    readme = (ROOT / "README.md").read_text()
    assert api_table.readme_with_table(readme) == readme, (
        "README.md's function table is out of date: run `python ci/api_table.py --write`")


def test_readme_gives_the_command_ci_runs():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / "ci" / "test.sh").read_text()
    command = "-m pytest -q -n auto --dist loadfile tests"
    assert f'pip install ".[test]" && .venv/bin/python {command}' in readme
    assert f'"$work/.venv/bin/python" {command}' in ci and 'install --no-cache-dir ".[test]"' in ci
