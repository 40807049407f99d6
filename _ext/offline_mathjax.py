"""Sphinx extension: the built book serves MathJax itself (no CDN at view time).

MathJax 3.2.2 comes from the pinned PyPI package ``django-static-mathjax`` (in
requirements.txt; it installs the MathJax distribution as the data of a package named
``mathjax``, with no dependencies). After an HTML build, the bundle named by ``mathjax_path``
in ``_config.yml`` (``mathjax/tex-mml-chtml.js``, relative to ``_static``) and the
components it loads on demand (fonts, TeX extensions, menu, accessibility) are copied into
``_build/html/_static/mathjax/``, so ``_build/html`` renders every equation offline.
"""

from __future__ import annotations

import shutil
from pathlib import Path

#: Folders of the MathJax ``es5`` distribution that the combined bundle loads lazily.
COMPONENTS = ("input", "output", "ui", "a11y", "sre", "adaptors")


def mathjax_es5() -> Path:
    """The ``es5`` folder of the installed MathJax distribution."""
    import mathjax  # the django-static-mathjax package

    root = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
    if not root.is_dir():
        raise RuntimeError(f"MathJax distribution not found at {root}: "
                           "is django-static-mathjax (requirements.txt) installed?")
    return root


def copy_mathjax(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    prefix, _, bundle = app.config.mathjax_path.rpartition("/")
    if prefix != "mathjax" or "://" in app.config.mathjax_path:
        raise RuntimeError(f"mathjax_path must be 'mathjax/<bundle>.js' (relative to _static), "
                           f"got {app.config.mathjax_path!r}")
    src = mathjax_es5()
    dst = Path(app.outdir) / "_static" / "mathjax"
    shutil.rmtree(dst, ignore_errors=True)
    dst.mkdir(parents=True)
    shutil.copy2(src / bundle, dst / bundle)
    for name in COMPONENTS:
        shutil.copytree(src / name, dst / name)


def setup(app):
    app.connect("build-finished", copy_mathjax)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
