"""The backend table: one protocol, the same meaning on NumPy, Array API and Dask.

Every law here is checked on each backend through the public estimators: what
differs between backends is only where the pixels live.
"""

from __future__ import annotations

import ast
import pathlib

import numpy as np
import pytest
import sklearn
from numpy.testing import assert_allclose, assert_array_equal

from sk_pixels import PixelCenterer, PixelNormalizer, PixelStandardizer

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "sk_pixels"


# -- backends as the user meets them ---------------------------------------------------
def _numpy(X):
    return X, np.asarray


def _strict(X):
    xp = pytest.importorskip("array_api_strict")
    pytest.importorskip("array_api_compat")
    return xp.asarray(X), _to_numpy


def _torch(X):
    torch = pytest.importorskip("torch")
    pytest.importorskip("array_api_compat")
    return torch.asarray(X), _to_numpy


def _dask(X):
    da = pytest.importorskip("dask.array")
    return da.from_array(X, chunks=(2, *X.shape[1:])), lambda Y: np.asarray(Y.compute())


def _to_numpy(Y):
    from sk_pixels._backends._array_api import to_numpy

    return to_numpy(Y)


BACKENDS = {
    "numpy": _numpy,
    "array_api_strict": _strict,
    "torch": _torch,
    "dask": _dask,
}


@pytest.fixture(params=list(BACKENDS))
def backend(request):
    make = BACKENDS[request.param]
    if request.param in ("array_api_strict", "torch"):
        try:
            with sklearn.config_context(array_api_dispatch=True):
                make(np.zeros((1, 1, 1, 1), dtype=np.float32))
                yield request.param, make
        except (ImportError, RuntimeError) as exc:
            pytest.skip(f"array_api_dispatch cannot be enabled: {exc}")
        return
    yield request.param, make


def _dispatch(name):
    on = name in ("array_api_strict", "torch")
    return sklearn.config_context(array_api_dispatch=on)


# -- laws --------------------------------------------------------------------------
def test_edited_parameter_array_means_the_same_on_every_backend(backend, rng):
    name, make = backend
    X = rng.integers(0, 256, size=(4, 3, 5, 3), dtype=np.uint8)
    mean = np.array([10.0, 20.0, 30.0])
    scaler = PixelStandardizer(mean=mean, std=2.0).fit(X)
    first = scaler.transform(X)
    mean[0] = 90.0  # in place: the same object, another value
    expected = scaler.transform(X)
    assert not np.array_equal(first, expected)
    with _dispatch(name):
        Xb, back = make(X)
        scaler.transform(Xb)  # a transform before the edit would not pin it
        mean[1] = 70.0
        expected = PixelStandardizer(mean=mean.copy(), std=2.0).fit(X).transform(X)
        got = back(scaler.transform(Xb))
    assert_allclose(got, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("per_pixel", [False, True], ids=["per-channel", "mean-image"])
def test_out_is_honoured_or_refused_on_every_backend(backend, rng, per_pixel):
    name, make = backend
    X = rng.integers(0, 256, size=(4, 3, 5, 3), dtype=np.uint8)
    scaler = PixelStandardizer(per_pixel=per_pixel).fit(X)
    expected = scaler.transform(X)
    with _dispatch(name):
        Xb, back = make(X)
        if name == "dask":  # a NumPy or a Dask buffer: both refused
            buffer = np.empty(X.shape, np.float32)
            for out in (buffer, make(buffer)[0]):
                with pytest.raises(TypeError, match="out= is not supported for Dask"):
                    scaler.transform(Xb, out=out)
            return
        if name == "numpy":
            buf = np.zeros(X.shape, dtype=np.float32)
        else:
            buf, _ = make(np.zeros(X.shape, dtype=np.float32))
        result = scaler.transform(Xb, out=buf)
        assert result is buf
        assert_allclose(back(buf), expected, rtol=1e-6, atol=1e-6)
        with pytest.raises((TypeError, ValueError), match="shape"):
            scaler.transform(Xb, out=buf[:1, ...])
        if name != "numpy":
            with pytest.raises(
                TypeError, match="out must be an array of X's namespace"
            ):
                scaler.transform(Xb, out=np.empty(X.shape, np.float32))
        masked = PixelStandardizer(nodata=0, nodata_fill=-1.0).fit(X)
        assert masked.transform(Xb, out=buf) is buf  # sentinels written as fill
        assert_allclose(back(buf), masked.transform(X), rtol=1e-6, atol=1e-6)


def test_out_whose_strides_fold_to_no_view_is_written_in_place(rng):
    X = rng.integers(0, 256, size=(2, 3, 4, 5, 3), dtype=np.uint8)  # volumes
    scaler = PixelStandardizer().fit(X)
    out = np.zeros((2, 6, 4, 5, 3), np.float32)[:, ::2]  # D and H cannot fold
    assert scaler.transform(X, out=out) is out
    assert_array_equal(out, scaler.transform(X).astype(np.float32))


def test_inverse_transform_exists_only_where_statistics_are_kept():
    for scope in ("batch", "image"):
        for cls in (PixelStandardizer, PixelNormalizer, PixelCenterer):
            assert not hasattr(cls(scope=scope), "inverse_transform")
    assert hasattr(PixelStandardizer(), "inverse_transform")
    assert hasattr(PixelNormalizer(scope="domain"), "inverse_transform")


def test_set_output_pandas_never_materialises_a_dask_array(rng):
    da = pytest.importorskip("dask.array")
    pytest.importorskip("pandas")
    X = rng.integers(0, 256, size=(6, 12), dtype=np.uint8)
    scaler = PixelStandardizer().set_output(transform="pandas").fit(X)
    lazy = scaler.transform(da.from_array(X, chunks=(2, 12)))
    assert isinstance(lazy, da.Array)
    assert_allclose(lazy.compute(), scaler.transform(X).to_numpy(), rtol=1e-6)
    assert isinstance(scaler.fit_transform(da.from_array(X, chunks=(2, 12))), da.Array)


@pytest.mark.parametrize(
    "max_value", [-1.0, 0.0, np.nan, np.inf, -np.inf, 10**400, "255", None.__class__]
)
def test_fit_stats_rejects_a_max_value_that_is_not_finite_and_positive(max_value, rng):
    from sk_pixels import PixelStats

    stats = PixelStats.from_array(rng.integers(0, 256, (2, 3, 3, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="max_value must be a finite number > 0"):
        PixelStandardizer().fit_stats(stats, max_value=max_value)


def test_fit_stats_refuses_statistics_of_images_without_channels():
    from sk_pixels import PixelStats

    stats = PixelStats.from_view(np.zeros((1, 2, 2, 0), np.uint8))
    with pytest.raises(ValueError, match="hold 0 channels.*at least one channel"):
        PixelStandardizer().fit_stats(stats)


def test_near_constant_rule_does_not_depend_on_the_subtracted_mean():
    # Issue 11, item 3: the same data, a learned or a fixed mean of 0.
    X = np.full((10, 1), 1e10)
    X[:5] += 1e-5
    X[5:] -= 1e-5
    learned = PixelStandardizer().fit(X).transform(X)
    fixed = PixelStandardizer(mean=0.0).fit(X).transform(X)
    assert_array_equal(learned, X - PixelStandardizer().fit(X).mean_)
    assert_array_equal(fixed, X)  # std applied as 1, as with the learned mean


def test_concurrent_partial_fit_counts_every_batch_once(rng):
    from concurrent.futures import ThreadPoolExecutor

    batches = [rng.integers(0, 256, (1, 4, 4, 3), dtype=np.uint8) for _ in range(400)]
    scaler = PixelStandardizer()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(scaler.partial_fit, batches))
    assert scaler.n_samples_seen_ == scaler.stats_.n_images == len(batches)
    expected = PixelStandardizer().fit(np.concatenate(batches))
    assert_array_equal(scaler.mean_, expected.mean_)
    assert_array_equal(scaler.std_, expected.std_)


# -- architecture --------------------------------------------------------------------
def _imports(path: pathlib.Path, module: str) -> set[str]:
    """Modules of sk_pixels that ``path`` imports (at any depth, lazy ones too)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            names = [f"{target}.{alias.name}" for alias in node.names]
            # ``from . import x`` imports x, not (again) the package around it.
            found.update(names if node.module is None else [target, *names])
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.split(".")[0] == "sk_pixels"}


def _import_graph() -> dict[str, set[str]]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    graph = {}
    for name, path in modules.items():
        targets = set()
        for imported in _imports(path, name):
            while imported and imported not in modules:
                imported = imported.rpartition(".")[0]  # a name inside a module
            if imported and imported != name:
                targets.add(imported)
        graph[name] = targets
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of ``graph`` (a list of modules), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return stack[stack.index(target) :] + [target]
            if target not in state and (found := visit(target)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_package_has_no_import_cycle():
    graph = _import_graph()
    assert "sk_pixels._base" in graph and graph["sk_pixels._base"]
    cycle = _cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)
