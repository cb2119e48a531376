"""Test matrix: `nox` runs lint, then the tests once per Keras backend.

nox                          # everything
nox -s "tests(backend='jax')"
nox -s examples              # the examples for a few steps on each backend
nox -s soak                  # the opt-in soak tests (PyTorch backend)
"""

import nox

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["lint", "tests", "soak", "examples", "docs"]
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
    """KERAS_BACKEND, and for JAX a persistent compilation cache.

    Many tests and examples compile the same small programs (one tiny model,
    trained in many ways); JAX's on-disk cache compiles each once per run
    instead of once per test: 36% less time over the model and callback
    tests. Every entry is keyed on the program, JAX version and flags.
    """
    env = {"KERAS_BACKEND": backend}
    if backend == "jax":
        env.update(
            JAX_COMPILATION_CACHE_DIR=str(session.cache_dir / "jax-compilation"),
            JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
            JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="-1",
        )
    return env


def install(session, backend, *extras):
    package = f".[{','.join(extras)}]" if extras else "."
    session.install("-c", CONSTRAINTS, package, *BACKENDS[backend])


@nox.session
def lint(session):
    """Ruff lint and format checks."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
@nox.parametrize("backend", list(BACKENDS))
def tests(session, backend):
    """The test suite with KERAS_BACKEND set to one backend.

    Two pytest-xdist workers, each taking whole test files (module fixtures
    are built once): much of a test's time is single-threaded tracing and
    compiling, which the second core overlaps (JAX's suite: 18 instead of
    23 minutes on the 2-core CI machine).
    """
    install(session, backend, "test", "registration")
    session.run(
        "pytest",
        "-n",
        "2",
        "--dist",
        "loadfile",
        *session.posargs,
        env=backend_env(session, backend),
    )


@nox.session
def soak(session):
    """The opt-in soak and extra kill tests (`-m soak`), on the PyTorch backend.

    Many fit / checkpoint / load / resume cycles in one process, and training
    runs killed at random moments; about 3 minutes.
    """
    install(session, "torch", "test")
    session.run(
        "pytest", "-m", "soak", *session.posargs, env={"KERAS_BACKEND": "torch"}
    )


@nox.session
@nox.parametrize("backend", list(BACKENDS))
def examples(session, backend):
    """Each example for a few training steps."""
    install(session, backend, "plots")
    env = backend_env(session, backend)
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
