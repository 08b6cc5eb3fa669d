"""No new import cycle among nbad's modules (ci/import_cycles.py --check)."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "ci"))
import import_cycles  # noqa: E402


def test_no_new_import_cycle():
    groups = import_cycles.strongly_connected_groups(import_cycles.import_graph())
    new = [g for g in groups if g not in import_cycles.KNOWN_GROUPS]
    assert not new, "new or grown import cycles (see `python ci/import_cycles.py`):\n" + "\n".join(
        " ".join(g) for g in new)


def test_known_groups_are_current():
    """A cycle that is gone is removed from KNOWN_GROUPS, so the list only shrinks."""
    groups = import_cycles.strongly_connected_groups(import_cycles.import_graph())
    stale = [g for g in import_cycles.KNOWN_GROUPS if g not in groups]
    assert not stale, "remove from KNOWN_GROUPS in ci/import_cycles.py:\n" + "\n".join(" ".join(g) for g in stale)


def test_finds_a_function_local_cycle(tmp_path):
    pkg = tmp_path / "nbad"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from nbad.sub import b\n")
    (pkg / "sub" / "b.py").write_text("def f():\n    from ..a import x\n")
    (pkg / "c.py").write_text("import nbad.a\n")
    graph = import_cycles.import_graph(tmp_path)
    assert import_cycles.strongly_connected_groups(graph) == [("nbad.a", "nbad.sub.b")]
    assert graph["nbad.sub.b"]["nbad.a"] == (2, True)
