"""The shared figure style."""

import matplotlib as mpl

from metarep.plotting import STYLE, style


def test_style_applies_and_restores_only_its_own_keys():
    before = mpl.rcParams["font.size"]
    was_interactive = mpl.is_interactive()
    try:
        mpl.interactive(False)
        with style():
            assert mpl.rcParams["font.size"] == STYLE["font.size"]
            # what a Jupyter kernel does when the first figure activates the inline backend
            mpl.interactive(True)
        assert mpl.rcParams["font.size"] == before
        assert mpl.is_interactive(), "style() must not undo settings it did not make"
    finally:
        mpl.interactive(was_interactive)
