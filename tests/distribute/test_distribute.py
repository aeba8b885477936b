"""tensorflowish.distribute: 2 ranks on loopback against the one-process result, and the
single-process API (no launcher, size 1)."""

from __future__ import annotations

import json
import os
import sys

import distributed_mlp as mlp
import numpy as np
import pytest
from mpi_helpers import requires_mpi, run_workers

import tensorflowish as tf
from tensorflowish import distribute


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    """What rank 0 and rank 1 of worker.py's main scenario saw (one launch for all tests)."""
    output = tmp_path_factory.mktemp("two-ranks")
    code = run_workers("main", output)
    assert code == 0, f"the 2-process worker failed with exit code {code} (its output is above)"
    return [dict(np.load(output / f"rank{r}.npz")) for r in range(2)]


@requires_mpi
def test_ranks_know_who_they_are(ranks):
    assert [int(r["rank"]) for r in ranks] == [0, 1]
    assert [int(r["size"]) for r in ranks] == [2, 2]
    assert sorted(int(r["local_rank"]) for r in ranks) == [0, 1]
    assert [bool(r["chief"]) for r in ranks] == [True, False]


@requires_mpi
def test_broadcast_makes_all_weights_identical(ranks):
    for index in range(4):
        np.testing.assert_array_equal(ranks[0][f"param{index}"], ranks[1][f"param{index}"])
    # and they are rank 0's initial weights, not rank 1's
    start = mlp.make_params(seed=100)
    np.testing.assert_array_equal(ranks[1]["param0"], start[0].numpy())


@requires_mpi
def test_averaged_gradients_of_two_halves_equal_the_whole_batch_gradient(ranks):
    params = [tf.Variable(ranks[0][f"param{i}"]) for i in range(4)]
    x_train, y_train, _, _ = mlp.load_digits_split()
    with tf.GradientTape() as tape:
        value = mlp.loss(params, x_train[:64], y_train[:64])
    expected = tape.gradient(value, params)
    for index, gradient in enumerate(expected):
        assert ranks[0][f"gradient{index}"].dtype == np.float64
        np.testing.assert_allclose(ranks[0][f"gradient{index}"], gradient.numpy(), rtol=0,
                                   atol=1e-6)
        np.testing.assert_array_equal(ranks[0][f"gradient{index}"], ranks[1][f"gradient{index}"])


@requires_mpi
def test_none_gradients_stay_none_everywhere_or_count_as_zeros(ranks):
    assert all(bool(r["none_stays_none"]) for r in ranks)
    # d/d(sometimes) is 4 on rank 1 and None (zero) on rank 0: the average is 2 on both
    for r in ranks:
        np.testing.assert_array_equal(r["sometimes_gradient"], [2.0, 2.0])


@requires_mpi
def test_distributed_optimizer_step_equals_the_one_process_step(ranks):
    params = mlp.make_params(seed=7)
    x_train, y_train, _, _ = mlp.load_digits_split()
    with tf.GradientTape() as tape:
        value = mlp.loss(params, x_train[:64], y_train[:64])
    for variable, gradient in zip(params, tape.gradient(value, params)):
        variable.assign_sub(0.5 * gradient)
    for index, variable in enumerate(params):
        np.testing.assert_allclose(ranks[0][f"stepped{index}"], variable.numpy(), atol=1e-6)
        np.testing.assert_array_equal(ranks[0][f"stepped{index}"], ranks[1][f"stepped{index}"])
    assert float(ranks[0]["delegated_learning_rate"]) == 0.5


@requires_mpi
def test_allreduce_broadcast_and_metrics(ranks):
    for r in ranks:  # rank r contributes [r + 1, 10 (r + 1)]
        np.testing.assert_array_equal(r["allreduce_average"], [1.5, 15.0])
        np.testing.assert_array_equal(r["allreduce_sum"], [3.0, 30.0])
        np.testing.assert_array_equal(r["allreduce_min"], [1.0, 10.0])
        np.testing.assert_array_equal(r["allreduce_max"], [2.0, 20.0])
        np.testing.assert_array_equal(r["allreduce_int_sum"], [3])
        assert r["allreduce_float32"].dtype == np.float32
        np.testing.assert_array_equal(r["broadcast"], [6.0])  # rank 1's value
        metrics = json.loads(str(r["metrics"]))  # weights 1 and 2
        assert metrics == pytest.approx({"loss": (1.0 + 2 * 2.0) / 3,
                                         "accuracy": (0.5 + 2 * 0.75) / 3})


@requires_mpi
def test_mismatched_shapes_dtypes_and_calls_are_named(ranks):
    for r in ranks:
        shape, dtype, call = json.loads(str(r["mismatch_messages"]))
        assert "float64[3,2] on rank 0 but float64[4,2] on rank 1" in shape
        assert "float64[4] on rank 0 but float32[4] on rank 1" in dtype
        assert "rank 0 called allreduce but rank 1 called barrier" in call
        np.testing.assert_array_equal(r["after_mismatch"], [2.0])  # still in step afterwards


@requires_mpi
def test_two_process_training_reaches_the_one_process_accuracy(ranks):
    x_train, y_train, x_test, y_test = mlp.load_digits_split()
    params = mlp.make_params(seed=3)
    mlp.train(params, x_train, y_train, epochs=8, batch_size=64, learning_rate=0.5)
    one_process = mlp.accuracy(params, x_test, y_test)
    two_processes = float(ranks[0]["accuracy"])
    assert [int(r["shard_rows"]) for r in ranks] == [700, 700]
    for index in range(4):  # the ranks' models never drifted apart
        np.testing.assert_array_equal(ranks[0][f"trained{index}"], ranks[1][f"trained{index}"])
    assert one_process > 0.9 and two_processes > 0.9
    assert abs(two_processes - one_process) < 0.03, (one_process, two_processes)


# --- one process, no launcher: the same API with size 1 -------------------------------------


@pytest.fixture
def single_process(monkeypatch):
    for name in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(distribute.process, "_context", None)  # the job state lives there
    distribute.init()
    return distribute


def test_single_process_has_size_one_and_no_communication(single_process):
    d = single_process
    assert d.is_initialized()
    assert (d.size(), d.rank(), d.local_rank(), d.local_size(), d.is_chief()) == (1, 0, 0, 1, True)
    assert d.process._context.comm is None  # MPI was never started
    x = tf.constant([1.0, 2.0])
    assert d.allreduce(x) is x
    assert d.allreduce(x, op="sum").numpy().tolist() == [1.0, 2.0]
    assert d.broadcast(x) is x
    assert d.allreduce_metrics({"loss": np.float32(0.5), "accuracy": tf.constant(1.0)}) == {
        "loss": 0.5, "accuracy": 1.0}
    d.barrier()
    variable = tf.Variable([3.0])
    d.broadcast_variables([variable])
    assert variable.numpy().tolist() == [3.0]


def test_single_process_tape_and_optimizer_wrappers(single_process):
    d = single_process
    w, unused = tf.Variable(2.0), tf.Variable(1.0)
    with d.DistributedGradientTape(tf.GradientTape()) as tape:
        loss = w * w
    gradients = tape.gradient(loss, {"w": w, "unused": unused})
    assert float(gradients["w"]) == 4.0 and gradients["unused"] is None

    class Recorder:
        learning_rate = 0.1

        def apply_gradients(self, pairs):
            self.pairs = list(pairs)
            return "applied"

    optimizer = d.DistributedOptimizer(Recorder())
    assert optimizer.apply_gradients([(tf.constant(1.0), w)]) == "applied"
    assert optimizer.learning_rate == 0.1
    optimizer.learning_rate = 0.2
    assert optimizer._optimizer.learning_rate == 0.2
    optimizer.minimize(lambda: w * 3.0, [w])
    assert float(optimizer.pairs[0][0]) == 3.0
    with pytest.raises(TypeError, match="apply_gradients"):
        d.DistributedOptimizer(object())


def test_bad_arguments_are_explained(single_process):
    d = single_process
    with pytest.raises(ValueError, match="expected one of average, sum, min, max"):
        d.allreduce(tf.constant(1.0), op="mean")
    with pytest.raises(TypeError, match="Cannot average .* int32: use op='sum'"):
        d.allreduce(tf.constant([1, 2]))
    with pytest.raises(TypeError, match="updates tf.Variable objects in place"):
        d.broadcast_variables([tf.constant(1.0)])
    with pytest.raises(ValueError, match="root_rank 1 is not a rank"):
        d.broadcast_variables([tf.Variable(1.0)], root_rank=1)
    with pytest.raises(ValueError, match="TENSORFLOWISH_DISTRIBUTE_TIMEOUT='soon'"):
        os.environ["TENSORFLOWISH_DISTRIBUTE_TIMEOUT"] = "soon"
        try:
            d.process._resolve_timeout(None)
        finally:
            del os.environ["TENSORFLOWISH_DISTRIBUTE_TIMEOUT"]


def test_missing_mpi4py_under_a_launcher_names_the_extra(monkeypatch):
    monkeypatch.setenv("PMI_SIZE", "2")
    monkeypatch.setattr(distribute.process, "_context", None)  # the job state lives there
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # import fails as if not installed
    with pytest.raises(distribute.DistributedError,
                       match=r"one of 2 processes.*pip install 'tensorflowish\[distributed\]'"):
        distribute.init()
    assert not distribute.is_initialized()


def test_no_launcher_found_names_the_extra(monkeypatch):
    monkeypatch.setattr(sys, "executable", "/nonexistent/bin/python")
    monkeypatch.setenv("PATH", "")
    with pytest.raises(distribute.DistributedError,
                       match=r"mpiexec.gforker.*pip install 'tensorflowish\[distributed\]'"):
        distribute.launch(2, ["true"])


# --- sharding -------------------------------------------------------------------------------


def test_shard_arrays_and_structures():
    x, y = np.arange(7), np.arange(7) * 10
    assert distribute.shard(x, 2, 1).tolist() == [1, 3, 5]
    sharded_x, sharded_y = distribute.shard((x, y), 2, 0, drop_remainder=True)
    assert sharded_x.tolist() == [0, 2, 4] and sharded_y.tolist() == [0, 20, 40]
    assert distribute.shard({"x": tf.constant(x)}, 3, 2)["x"].numpy().tolist() == [2, 5]
    assert [distribute.shard_length(7, 3, i) for i in range(3)] == [3, 2, 2]
    assert distribute.shard_length(7, 3, 0, drop_remainder=True) == 2
    with pytest.raises(ValueError, match=r"index must be in \[0, num_shards\)"):
        distribute.shard(x, 2, 2)
    with pytest.raises(ValueError, match="give both num_shards and index"):
        distribute.shard(x, 2)


def test_shard_datasets_like_tensorflow():
    sliced = tf.data.Dataset.from_tensor_slices((np.arange(7), np.arange(7) * 10))
    shard = distribute.shard(sliced, 2, 1)
    assert len(shard) == 3
    assert [(int(a), int(b)) for a, b in shard] == [(1, 10), (3, 30), (5, 50)]
    assert type(shard) is type(sliced)  # still the fast whole-array path for shuffle/batch
    mapped = tf.data.Dataset.range(7).map(lambda v: v * 2)
    for drop, expected in ((False, [0, 6, 12]), (True, [0, 6])):
        shard = distribute.shard(mapped, 3, 0, drop_remainder=drop)
        assert [int(v) for v in shard] == expected and len(shard) == len(expected)


@requires_mpi
def test_launch_stops_everything_after_its_timeout(tmp_path):
    pid_file = tmp_path / "pid"
    child = (f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); "
             "time.sleep(600)")
    code = distribute.launch(1, [sys.executable, "-c", child], timeout=3)
    assert code == 124
    pid = int(pid_file.read_text())
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        pass
    else:
        raise AssertionError(f"the rank (pid {pid}) still runs after launch() timed out")
