"""Only the C part of the package; everything else is in pyproject.toml."""

from setuptools import Extension, setup

# The packed encoder's attention and float32 linear layers (pipeline/_attend.c), loaded with
# ctypes. Optional: where it does not build, the encoder keeps torch's attention and MKL's
# products (and names its vectors so).
setup(
    ext_modules=[
        Extension(
            "pipeline._attend",
            sources=["pipeline/_attend.c"],
            extra_compile_args=["-O3"],
            optional=True,
        )
    ]
)
