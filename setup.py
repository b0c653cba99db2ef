"""Build of the C core + Cython wrapper.

The C sources in src/ are compiled into the extension with OpenMP when the
compiler supports it. Without OpenMP the build still succeeds, single-threaded,
and says so loudly. PYSPARSEGRAPH_NATIVE=1 adds -march=native (off by default so
wheels run on any x86-64). PYSPARSEGRAPH_SANITIZE=1 builds unoptimized under
AddressSanitizer + UndefinedBehaviorSanitizer, for tests only: Python must then
preload the ASan runtime (see `make pytest-asan`).
"""
import glob
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import warnings

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))


def _openmp_flags(compiler_type, compiler_cmd):
    """(compile_args, link_args) that enable OpenMP, or None if it does not work."""
    if compiler_type == "msvc":
        return ["/openmp"], []
    candidates = [(["-fopenmp"], ["-fopenmp"])]
    if sys.platform == "darwin":
        candidates.append((["-Xpreprocessor", "-fopenmp"], ["-lomp"]))
    test = "#include <omp.h>\nint main(void){int n=0;\n#pragma omp parallel\n{n=omp_get_num_threads();}\nreturn n<1;}\n"
    for cflags, lflags in candidates:
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "t.c")
            with open(src, "w") as f:
                f.write(test)
            try:
                r = subprocess.run(compiler_cmd + cflags + [src, "-o", os.path.join(tmp, "t")] + lflags,
                                   capture_output=True)
            except OSError:
                return None
            if r.returncode == 0:
                return cflags, lflags
    return None


class BuildExt(build_ext):
    def build_extensions(self):
        ctype = self.compiler.compiler_type
        cc = getattr(self.compiler, "compiler_so", None) or [sysconfig.get_config_var("CC") or "cc"]
        # the command without its flags: a wrapper such as CC="ccache gcc" is two words
        cmd = [cc[0]] + [w for w in cc[1:2] if not w.startswith("-")]
        omp = _openmp_flags(ctype, cmd)
        if ctype == "msvc":
            base = ["/O2", "/std:c11"]
        else:
            base = ["-O3", "-std=c11", "-fno-strict-aliasing", "-Wno-unknown-pragmas", "-Wno-unused-function"]
            if os.environ.get("PYSPARSEGRAPH_NATIVE") == "1":
                base.append("-march=native")
            if os.environ.get("PYSPARSEGRAPH_SANITIZE") == "1":  # -O0: the SpMM templates compile for long sanitized
                san = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined"]
                base = [f for f in base if f != "-O3"] + ["-O0", "-g", "-fno-omit-frame-pointer"] + san
                for ext in self.extensions:
                    ext.extra_link_args = san + ext.extra_link_args
        if omp is None:
            msg = ("\n" + "!" * 78 + "\n pysparsegraph: OpenMP was NOT found for this compiler.\n"
                   " The C core is built SINGLE-THREADED. Install an OpenMP runtime (e.g. libgomp,\n"
                   " libomp) and rebuild for parallel kernels.\n" + "!" * 78 + "\n")
            warnings.warn(msg)
            print(msg, file=sys.stderr)
            cflags, lflags = [], []
        else:
            cflags, lflags = omp
        for ext in self.extensions:
            ext.extra_compile_args = base + cflags + ext.extra_compile_args
            ext.extra_link_args = lflags + ext.extra_link_args
            ext.define_macros.append(("PSG_BUILD_OPENMP", "1" if omp else "0"))
        super().build_extensions()


sources = ["pysparsegraph/_core.pyx"] + sorted(glob.glob("src/*.c"))
ext = Extension(
    "pysparsegraph._core",
    sources=sources,
    include_dirs=["include", "src", np.get_include()],
    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    depends=glob.glob("src/*.h") + glob.glob("src/templates/*.inc") + glob.glob("include/pysparsegraph/*.h")
    + glob.glob("pysparsegraph/*.pxi"),
)

setup(
    ext_modules=cythonize([ext], language_level=3, compiler_directives={"boundscheck": False, "wraparound": False}),
    cmdclass={"build_ext": BuildExt},
)
