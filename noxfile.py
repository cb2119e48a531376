"""Test matrix: `nox` runs lint, then each backend's tests and examples, then docs.

nox                                   # everything
nox -s "tests(backend='jax')"         # one backend: its tests, then its examples
nox -s "tests(backend='jax')" -- -k cli   # pytest arguments: the tests alone
nox -s examples                       # the examples alone, on each backend
nox -s soak                           # the soak tests alone (PyTorch backend)
"""

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True

# What each backend's session installs. CPU builds: tensorflow-cpu, and the
# torch build pinned in the constraints file (a plain `torch` is a CUDA build).
BACKENDS = {
    "tensorflow": ["tensorflow-cpu", "tensorboard"],
    "torch": ["torch"],
    "jax": ["jax[cpu]"],
}
CONSTRAINTS = ".ci/constraints.txt"


def backend_env(session, backend):
    """KERAS_BACKEND, and for JAX a persistent cache and a quicker compiler.

    Many tests and examples compile the same small programs (one tiny model,
    trained in many ways); JAX's on-disk cache compiles each once per run
    instead of once per test. Every entry is keyed on the program, JAX
    version and flags. LLVM optimization level 0 compiles each program about
    twice as fast; the tests' programs are tiny, so the slower code they get
    costs less than the compiling saves (a tiny model's first fit: 22 s
    instead of 47 s). It changes no results beyond float rounding.
    """
    env = {"KERAS_BACKEND": backend}
    if backend == "jax":
        env.update(
            JAX_COMPILATION_CACHE_DIR=str(session.cache_dir / "jax-compilation"),
            JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
            JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="-1",
            XLA_FLAGS="--xla_backend_optimization_level=0",
        )
    return env


def install(session, backend, *extras):
    package = f".[{','.join(extras)}]" if extras else "."
    session.install("-c", CONSTRAINTS, package, *BACKENDS[backend])


def run_examples(session, env):
    """Each example for a few training steps."""
    tmp = session.create_tmp()
    quick = ["--steps", "4", "--output"]
    session.run(
        "python", "examples/quickstart.py", *quick, f"{tmp}/quickstart", env=env
    )
    session.run(
        "python",
        "examples/mnist_pix2pix.py",
        "--filters",
        "8",
        "--train-count",
        "64",
        "--test-count",
        "32",
        *quick,
        f"{tmp}/mnist",
        env=env,
    )
    ixi = ["--image-size", "64", "--filters", "16", "--phantom-subjects", "2"]
    session.run(
        "python", "examples/ixi_t1_to_t2.py", *ixi, *quick, f"{tmp}/ixi", env=env
    )
    session.run(
        "python",
        "examples/ixi_t1_to_t2.py",
        "--paper",
        *ixi,
        *quick,
        f"{tmp}/paper",
        env=env,
    )
    session.run(
        "python",
        "examples/ixi_t2_to_pd.py",
        *["--image-size", "64", "--filters", "16", "--phantom-subjects", "3"],
        *quick,
        f"{tmp}/t2_to_pd",
        env=env,
    )


@nox.session
def lint(session):
    """Ruff lint and format checks."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
@nox.parametrize("backend", list(BACKENDS))
def tests(session, backend):
    """The test suite with KERAS_BACKEND set to one backend, then the examples.

    One environment per backend serves both, so each backend is installed
    once. On PyTorch the suite includes the opt-in soak tests (`-m soak`).
    With pytest arguments (`nox -s tests -- -k cli`) only pytest runs.

    Two pytest-xdist workers, each taking whole test files (module fixtures
    are built once): much of a test's time is single-threaded tracing and
    compiling, which the second core overlaps.
    """
    install(session, backend, "test", "registration", "plots")
    env = backend_env(session, backend)
    # An empty marker expression selects every test, soak tests too.
    markers = ["-m", ""] if backend == "torch" else []
    session.run(
        "pytest", "-n", "2", "--dist", "loadfile", *markers, *session.posargs, env=env
    )
    if not session.posargs:
        run_examples(session, env)


@nox.session(default=False)
def soak(session):
    """The opt-in soak and extra kill tests alone, on the PyTorch backend.

    Many fit / checkpoint / load / resume cycles in one process, and training
    runs killed at random moments; about 4 minutes. `tests(backend='torch')`
    runs them too.
    """
    install(session, "torch", "test")
    session.run(
        "pytest", "-m", "soak", *session.posargs, env={"KERAS_BACKEND": "torch"}
    )


@nox.session(default=False)
@nox.parametrize("backend", list(BACKENDS))
def examples(session, backend):
    """The examples alone, each for a few training steps."""
    install(session, backend, "plots")
    run_examples(session, backend_env(session, backend))


@nox.session
def docs(session):
    """Builds the documentation site; warnings fail the build."""
    session.install("-e", ".[docs]")
    session.run(
        "mkdocs",
        "build",
        "--strict",
        "--site-dir",
        f"{session.create_tmp()}/site",
        env={"NO_MKDOCS_2_WARNING": "1"},
    )
