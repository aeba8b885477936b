"""The emulator catches the bugs it promises to catch: each test plants one in a small kernel."""

from __future__ import annotations

import numpy as np
import pytest
from tensorflowish.kernels import emulator
from tensorflowish.kernels.emulator import EmulatorError

# Reverse a vector through shared memory; launched with one block of BLOCK threads.
BLOCK = 64
REVERSE = """
extern "C" __global__ void reverse(float* y, const float* x, int n) {
    __shared__ float tile[64];
    int i = threadIdx.x;
    if (i < n) tile[i] = x[i];
    SYNC
    if (i < n) y[i] = tile[n - 1 - i];
}
"""


def run_in_every_order(module, name, grid, block, make_args, output_index):
    """The output of a kernel for each thread order, from a NaN-poisoned output array."""
    results = {}
    for order in emulator.THREAD_ORDERS:
        args = make_args()
        args[output_index][...] = np.nan
        module.get_function(name)(grid, block, args, order=order)
        results[order] = args[output_index].copy()
    return results


def assert_correct_in_every_order(module, name, grid, block, make_args, output_index, expected):
    for order, result in run_in_every_order(
        module, name, grid, block, make_args, output_index
    ).items():
        np.testing.assert_array_equal(result, expected, err_msg=f"thread order {order}")


def reverse_args(n=50):
    return [np.empty(n, np.float32), np.arange(n, dtype=np.float32), np.int32(n)]


def test_correct_kernel_passes_in_every_order() -> None:
    module = emulator.load(REVERSE.replace("SYNC", "__syncthreads();"))
    assert_correct_in_every_order(
        module, "reverse", 1, BLOCK, reverse_args, 0, np.arange(50, dtype=np.float32)[::-1]
    )


def test_missing_syncthreads_is_caught() -> None:
    module = emulator.load(REVERSE.replace("SYNC", ""))
    results = run_in_every_order(module, "reverse", 1, BLOCK, reverse_args, 0)
    expected = np.arange(50, dtype=np.float32)[::-1]
    assert not all(np.array_equal(r, expected) for r in results.values())
    assert any(np.isnan(r).any() for r in results.values())  # read shared memory nobody wrote
    with pytest.raises(AssertionError):
        assert_correct_in_every_order(module, "reverse", 1, BLOCK, reverse_args, 0, expected)


REDUCE = """
extern "C" __global__ void block_sum(float* out, const float* x) {
    __shared__ float partial[128];
    partial[threadIdx.x] = x[blockIdx.x * blockDim.x + threadIdx.x];
    __syncthreads();
    for (int half = blockDim.x / 2; half > 0; half /= 2) {
        if (threadIdx.x < half) partial[threadIdx.x] += partial[threadIdx.x + half];
        SYNC
    }
    if (threadIdx.x == 0) out[blockIdx.x] = partial[0];
}
"""


def test_missing_barrier_in_a_reduction_depends_on_thread_order() -> None:
    def make_args():
        return [np.empty(3, np.float32), np.arange(3 * 128, dtype=np.float32) % 7]

    expected = (np.arange(3 * 128) % 7).reshape(3, 128).sum(axis=1).astype(np.float32)
    good = emulator.load(REDUCE.replace("SYNC", "__syncthreads();"))
    assert_correct_in_every_order(good, "block_sum", 3, 128, make_args, 0, expected)
    bad = emulator.load(REDUCE.replace("SYNC", ""))
    results = run_in_every_order(bad, "block_sum", 3, 128, make_args, 0)
    # Running each thread to the end in reverse happens to give the right sums, so one thread
    # order alone can hide this bug; the others expose it.
    assert np.array_equal(results["reverse"], expected)
    assert not np.array_equal(results["forward"], expected)
    assert not np.array_equal(results["random"], expected)


def test_wrong_stride_is_caught() -> None:
    source = """
    extern "C" __global__ void transpose(float* y, const float* x, int rows, int cols) {
        int r = blockIdx.y * blockDim.y + threadIdx.y, c = blockIdx.x * blockDim.x + threadIdx.x;
        if (r < rows && c < cols) y[c * rows + r] = x[r * STRIDE + c];
    }
    """
    x = np.random.default_rng(0).standard_normal((13, 21)).astype(np.float32)

    def make_args():
        return [np.empty((21, 13), np.float32), x, np.int32(13), np.int32(21)]

    good = emulator.load(source.replace("STRIDE", "cols"))
    assert_correct_in_every_order(good, "transpose", (3, 2), (8, 8), make_args, 0, x.T)
    bad = emulator.load(source.replace("STRIDE", "rows"))
    with pytest.raises(AssertionError):
        assert_correct_in_every_order(bad, "transpose", (3, 2), (8, 8), make_args, 0, x.T)


def test_early_return_before_barrier_is_reported_with_its_line() -> None:
    source = REVERSE.replace(
        "    if (i < n) tile[i] = x[i];", "    if (i >= n) return;\n    tile[i] = x[i];"
    ).replace("SYNC", "__syncthreads();")
    line = source.splitlines().index("    __syncthreads();") + 1
    module = emulator.load(source)
    with pytest.raises(EmulatorError, match=rf":{line} was reached by only 50 of the 64 threads"):
        module.get_function("reverse")(1, BLOCK, reverse_args())


def test_barriers_in_divergent_code_are_reported() -> None:
    module = emulator.load("""
    extern "C" __global__ void divergent(float* y) {
        if (threadIdx.x % 2) {
            __syncthreads();
        } else {
            __syncthreads();
        }
        y[threadIdx.x] = 1.0f;
    }""")
    with pytest.raises(EmulatorError, match="different __syncthreads"):
        module.get_function("divergent")(1, 32, (np.zeros(32, np.float32),))


def test_out_of_bounds_write_names_the_argument() -> None:
    module = emulator.load("""
    extern "C" __global__ void fill(float* first, float* second, int n) {
        int i = blockIdx.x * blockDim.x + threadIdx.x;
        if (i <= n) second[i] = 1.0f;  // bug: <= writes one past the end
        if (i < n) first[i] = 2.0f;
    }""")
    first, second = np.zeros(40, np.float32), np.zeros(40, np.float32)
    with pytest.raises(EmulatorError, match="out-of-bounds write to argument 'second'.*40"):
        module.get_function("fill")(2, 32, (first, second, np.int32(40)))


def test_write_before_the_start_is_caught() -> None:
    module = emulator.load("""
    extern "C" __global__ void shift(float* y, int n) {
        int i = threadIdx.x;
        if (i < n) y[i - 1] = 1.0f;
    }""")
    with pytest.raises(EmulatorError, match="'y': up to 1 element.*before its start"):
        module.get_function("shift")(1, 32, (np.zeros(10, np.float32), np.int32(10)))


def test_reads_outside_an_array_or_of_unwritten_shared_memory_give_nan() -> None:
    module = emulator.load("""
    extern "C" __global__ void neighbours(float* y, const float* x, int n) {
        __shared__ float never_written[32];
        int i = threadIdx.x;
        if (i < n) y[i] = x[i + 1];                 // reads one past the end for the last i
        if (i == 0) y[n] = never_written[5];
    }""")
    y = np.zeros(11, np.float32)
    module.get_function("neighbours")(1, 32, (y, np.ones(10, np.float32), np.int32(10)))
    assert np.isnan(y[9]) and np.isnan(y[10]) and (y[:9] == 1).all()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            (np.zeros(4, np.float32), 4, np.float32(1)),
            r"int n\) got 4 of type int64; CuPy passes a Python int as int64.*np\.int32",
        ),
        ((np.zeros(4, np.float32), np.int64(4), np.float32(1)), r"int n\) got 4 of type int64"),
        (
            (np.zeros(4, np.float32), np.int32(4), 1.0),
            r"float alpha\) got 1\.0 of type float64; CuPy passes a Python float as float64",
        ),
        (
            (np.zeros(4, np.float64), np.int32(4), np.float32(1)),
            r"float\* y\) needs an array of dtype float32, got float64",
        ),
        ((np.zeros(8, np.float32)[::2], np.int32(4), np.float32(1)), "C-contiguous"),
        (([0.0] * 4, np.int32(4), np.float32(1)), "needs a NumPy array, got list"),
        ((np.zeros(4, np.float32), np.int32(4)), "takes 3 arguments"),
    ],
)
def test_arguments_are_checked_against_the_signature(args, message) -> None:
    module = emulator.load("""
    extern "C" __global__ void scale(float* __restrict__ y, int n, float alpha) {
        if (threadIdx.x < n) y[threadIdx.x] *= alpha;
    }""")
    with pytest.raises(EmulatorError, match=message):
        module.get_function("scale")(1, 32, args)


def test_double_accepts_a_python_float_as_cupy_does() -> None:
    module = emulator.load("""
    extern "C" __global__ void axpy(double* y, const double* x, double a, long long n) {
        long long i = threadIdx.x;
        if (i < n) y[i] += a * x[i];
    }""")
    y = np.ones(5)
    module.get_function("axpy")(1, 32, (y, np.arange(5.0), 2.0, 5))
    np.testing.assert_array_equal(y, 1 + 2 * np.arange(5.0))


def test_same_array_passed_twice_is_one_buffer() -> None:
    module = emulator.load("""
    extern "C" __global__ void square(float* out, const float* in, int n) {
        int i = threadIdx.x;
        if (i < n) out[i] = in[i] * in[i];
    }""")
    a = np.arange(6, dtype=np.float32)
    module.get_function("square")(1, 32, (a, a, np.int32(6)))
    np.testing.assert_array_equal(a, np.arange(6, dtype=np.float32) ** 2)
    with pytest.raises(EmulatorError, match="'out' and 'in' overlap"):
        module.get_function("square")(1, 32, (a[1:], a[:-1], np.int32(5)))


def test_launch_configuration_is_checked() -> None:
    module = emulator.load(REVERSE.replace("SYNC", "__syncthreads();"))
    kernel = module.get_function("reverse")
    with pytest.raises(EmulatorError, match="more than 1024 threads"):
        kernel(1, (64, 32), reverse_args())
    with pytest.raises(EmulatorError, match="positive"):
        kernel(0, 64, reverse_args())
    with pytest.raises(EmulatorError, match="shared_mem must be a byte count"):
        kernel(1, 64, reverse_args(), shared_mem=-1)
    with pytest.raises(EmulatorError, match=r"no extern \"C\" __global__ kernel 'reverse_f32'"):
        module.get_function("reverse_f32")


DYNAMIC = """
extern "C" __global__ void reverse_dynamic(float* y, const float* x, int n) {
    extern __shared__ __align__(16) float tile[];
    int i = threadIdx.x;
    if (i < n) tile[i] = x[i];
    __syncthreads();
    if (i < n) y[i] = tile[n - 1 - i];
    BUG
}
"""


def test_dynamic_shared_memory() -> None:
    module = emulator.load(DYNAMIC.replace("BUG", ""))
    kernel = module.get_function("reverse_dynamic")
    for order in emulator.THREAD_ORDERS:
        y, x, n = reverse_args()
        y[...] = np.nan
        kernel(1, BLOCK, (y, x, n), shared_mem=4 * 50, order=order)
        np.testing.assert_array_equal(y, x[::-1])
    with pytest.raises(EmulatorError, match="past the end of its dynamic shared memory"):
        kernel(1, BLOCK, reverse_args(), shared_mem=4 * 40)  # room for 40 floats, 50 written
    # the source is rewritten for the emulator, but diagnostics still point at its lines
    with pytest.raises(EmulatorError, match=r"\.cu:8:\d+: error: .*undefined_name"):
        emulator.load(DYNAMIC.replace("BUG", "undefined_name = 1;"))


def test_compile_errors_carry_file_and_line(tmp_path) -> None:
    source = tmp_path / "broken.cu"
    source.write_text('extern "C" __global__ void k(float* y) {\n    y[0] = undefined_name;\n}\n')
    with pytest.raises(EmulatorError, match=r"broken\.cu:2:\d+: error: .*undefined_name"):
        emulator.load(source)


def test_compiled_kernels_are_cached(kernel_cache) -> None:
    source = 'extern "C" __global__ void cached_kernel(int* y) { y[threadIdx.x] = 7; }'
    emulator.load(source)
    libraries = set(kernel_cache.glob("*.so"))
    emulator.load(source, order="random")  # another thread order is a launch option, not a build
    assert set(kernel_cache.glob("*.so")) == libraries
    y = np.zeros(4, np.int32)
    emulator.load(source).get_function("cached_kernel")(1, 4, (y,))
    assert (y == 7).all()


def test_signature_parsing() -> None:
    kernels = emulator.parse_kernels("""
    // extern "C" __global__ void commented_out(int x) {}
    extern "C" __global__ void __launch_bounds__(256) a(const float* __restrict__ x,
                                                       unsigned int n, double s) {}
    extern "C" __global__ void b() {}
    """)
    assert list(kernels) == ["a", "b"]
    x, n, s = kernels["a"]
    assert (x.name, x.dtype, x.is_pointer, x.is_const) == ("x", np.float32, True, True)
    assert (n.name, n.dtype, n.is_pointer) == ("n", np.uint32, False)
    assert s.dtype == np.float64 and kernels["b"] == []


def test_the_documentation_examples_run(tmp_path, monkeypatch, capsys) -> None:
    """The Python blocks of docs/kernels.md's "Test a CUDA kernel without a GPU" run as shown
    (the third: a generated kernel of kernels/fusion.py)."""
    import re
    from pathlib import Path

    docs = Path(__file__).resolve().parents[2] / "docs" / "kernels.md"
    if not docs.exists():
        pytest.skip("docs/kernels.md is not part of this installation")
    section = docs.read_text().split("## Test a CUDA kernel without a GPU")[1]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert len(blocks) == 3
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(docs), "exec"), namespace)  # noqa: S102 - our own documentation
    printed = capsys.readouterr().out
    assert "CuPy passes a Python int as int64" in printed
    assert "sm_90 block_sum" in printed
    assert 'extern "C" __global__ void tfish_fused_' in printed
