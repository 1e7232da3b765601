"""Only what pyproject.toml cannot say: the optional C reader of CFDI index fields.

``optional=True``: without a C compiler the package still installs, and the CFDI store parses
every file with lxml (slower, same results). See src/pasarela/providers/mx/cfdi/_cfdiscan.c.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "pasarela.providers.mx.cfdi._cfdiscan",
            ["src/pasarela/providers/mx/cfdi/_cfdiscan.c"],
            extra_compile_args=["-O2"],
            optional=True,
        )
    ]
)
