"""Confusion-matrix, F-score, IoU, top-k and regression metrics: small cases counted by hand,
and the numbers Keras 3.15 printed for the same inputs."""

from __future__ import annotations

import numpy as np
import pytest

import tensorflowish as tf
from tensorflowish.keras import metrics

Y_TRUE = [0, 1, 1, 0, 1, 0, 1, 1]
Y_PRED = [0.1, 0.4, 0.35, 0.8, 0.9, 0.2, 0.6, 0.55]
WEIGHTS = [1, 2, 1, 1, 0.5, 1, 1, 3]
# at 0.5: predicted positive 3, 4, 6, 7 -> TP 4, 6, 7 (3); FP 3 (1); FN 1, 2 (2); TN 0, 5 (2)
MULTI_TRUE = [[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 1]]
MULTI_PRED = [[0.9, 0.2, 0.4], [0.3, 0.8, 0.6], [0.7, 0.4, 0.1], [0.2, 0.1, 0.7]]
ONE_HOT = [[0, 0, 1], [0, 1, 0], [1, 0, 0], [0, 1, 0]]
SCORES = [[0.2, 0.3, 0.5], [0.6, 0.3, 0.1], [0.4, 0.35, 0.25], [0.1, 0.2, 0.7]]


def _result(metric, *args, **kwargs):
    metric.update_state(*args, **kwargs)
    return np.asarray(metric.result().numpy()).tolist()


def test_confusion_counts_by_hand():
    assert _result(metrics.TruePositives(), Y_TRUE, Y_PRED) == 3
    assert _result(metrics.FalsePositives(thresholds=[0.3, 0.7]), Y_TRUE, Y_PRED) == [1, 1]
    assert _result(metrics.TrueNegatives(), Y_TRUE, Y_PRED) == 2
    assert _result(metrics.FalseNegatives(), Y_TRUE, Y_PRED) == 2


def test_precision_and_recall_by_hand():
    assert _result(metrics.Precision(), Y_TRUE, Y_PRED) == pytest.approx(3 / 4)
    # 0.3: 7 positive predictions, 5 true -> 5/6? no: TP 1,2,4,6,7 = 5, FP 3 = 1 -> 5/6
    np.testing.assert_allclose(_result(metrics.Precision(thresholds=[0.3, 0.5, 0.7]), Y_TRUE,
                                       Y_PRED), [5 / 6, 3 / 4, 1 / 2], rtol=1e-6)
    # weighted: TP 0.5 + 1 + 3, FP 1 -> 4.5 / 5.5 (Keras: 0.8181818)
    assert _result(metrics.Precision(), Y_TRUE, Y_PRED, sample_weight=WEIGHTS) == \
        pytest.approx(4.5 / 5.5)
    assert _result(metrics.Recall(), Y_TRUE, Y_PRED) == pytest.approx(3 / 5)
    np.testing.assert_allclose(_result(metrics.Recall(thresholds=[0.7, 0.3]), Y_TRUE, Y_PRED),
                               [1 / 5, 1.0], rtol=1e-6)


def test_precision_recall_top_k_and_class_id_match_keras():
    assert _result(metrics.Precision(top_k=1), MULTI_TRUE, MULTI_PRED) == 1.0
    # column 2: predictions 0.4, 0.6, 0.1, 0.7 > 0.5 -> rows 1 (false), 3 (true): 1/2
    assert _result(metrics.Precision(class_id=2), MULTI_TRUE, MULTI_PRED) == 0.5
    assert _result(metrics.Recall(top_k=2), MULTI_TRUE, MULTI_PRED) == 1.0


# AUC(curve, summation_method) with 200 and 5 thresholds, as Keras printed them
KERAS_AUC = {
    ("ROC", "interpolation"): (0.7333334, 0.7),
    ("ROC", "minoring"): (0.7333334, 0.6666666),
    ("ROC", "majoring"): (0.7333334, 0.7333333),
    ("PR", "interpolation"): (0.7802776, 0.6802776),
    ("PR", "minoring"): (0.5433334, 0.5),
    ("PR", "majoring"): (0.81, 0.7333334),
}


@pytest.mark.parametrize("curve, method", sorted(KERAS_AUC))
def test_auc_matches_keras(curve, method):
    many, five = KERAS_AUC[curve, method]
    auc = metrics.AUC(curve=curve, summation_method=method)
    assert _result(auc, Y_TRUE, Y_PRED) == pytest.approx(many, abs=2e-6)
    auc = metrics.AUC(curve=curve, summation_method=method, num_thresholds=5)
    assert _result(auc, Y_TRUE, Y_PRED) == pytest.approx(five, abs=2e-6)


def test_roc_auc_is_the_rank_statistic():
    # 15 (positive, negative) pairs; the positive scores higher in 11 of them
    auc = metrics.AUC(num_thresholds=1000)
    assert _result(auc, Y_TRUE, Y_PRED) == pytest.approx(11 / 15, abs=1e-6)


def test_auc_weights_multi_label_logits_and_thresholds_match_keras():
    assert _result(metrics.AUC(), Y_TRUE, Y_PRED, sample_weight=WEIGHTS) == \
        pytest.approx(0.6888889, abs=2e-6)
    assert _result(metrics.AUC(curve="PR"), Y_TRUE, Y_PRED, sample_weight=WEIGHTS) == \
        pytest.approx(0.7687198, abs=2e-6)
    assert _result(metrics.AUC(multi_label=True), MULTI_TRUE, MULTI_PRED) == \
        pytest.approx(0.9166667, abs=2e-6)
    assert _result(metrics.AUC(), MULTI_TRUE, MULTI_PRED) == pytest.approx(0.9444445, abs=2e-6)
    assert _result(metrics.AUC(multi_label=True, label_weights=[1, 2, 0.5]), MULTI_TRUE,
                   MULTI_PRED) == pytest.approx(0.9642857, abs=2e-6)
    assert _result(metrics.AUC(multi_label=True, curve="PR"), MULTI_TRUE, MULTI_PRED) == \
        pytest.approx(0.9324225, abs=2e-6)
    logits = np.array(Y_PRED) * 4 - 2
    assert _result(metrics.AUC(from_logits=True), Y_TRUE, logits) == \
        pytest.approx(0.7333334, abs=2e-6)
    assert _result(metrics.AUC(thresholds=[0.3, 0.5, 0.7]), Y_TRUE, Y_PRED) == \
        pytest.approx(0.7, abs=2e-6)


def test_auc_accumulates_over_batches():
    auc = metrics.AUC()
    auc.update_state(Y_TRUE[:3], Y_PRED[:3])
    auc.update_state(Y_TRUE[3:], Y_PRED[3:])
    assert float(auc.result()) == pytest.approx(0.7333334, abs=2e-6)
    auc.reset_state()
    assert float(auc.result()) == 0.0


@pytest.mark.parametrize("average, plain, thresholded, beta2_weighted", [
    (None, [2 / 3, 0.0, 2 / 3], [2 / 3, 0.0, 2 / 3], [0.7142856, 0.0, 0.9090908]),
    ("micro", 0.5, 0.4444444, 0.4255319),
    ("macro", 0.4444444, 0.4444444, 0.5411255),
    ("weighted", 0.3333333, 0.3333333, 0.3607503),
])
def test_f_scores_match_keras(average, plain, thresholded, beta2_weighted):
    # arg-max predictions: classes 2, 0, 0, 2 for targets 2, 1, 0, 1 -> class 0: TP 1 FP 1,
    # class 1: TP 0 FN 2, class 2: TP 1 FP 1 -> F1 2/3, 0, 2/3
    np.testing.assert_allclose(_result(metrics.F1Score(average=average), ONE_HOT, SCORES),
                               plain, atol=2e-6)
    np.testing.assert_allclose(_result(metrics.F1Score(average=average, threshold=0.3),
                                       ONE_HOT, SCORES), thresholded, atol=2e-6)
    fbeta = metrics.FBetaScore(average=average, beta=2.0, threshold=0.3)
    np.testing.assert_allclose(_result(fbeta, ONE_HOT, SCORES, sample_weight=[1, 2, 1, 0.5]),
                               beta2_weighted, atol=2e-6)


def test_top_k_accuracies_by_hand():
    # targets 2, 1, 0, 1; the top 2 of each row: {2, 1}, {0, 1}, {0, 1}, {2, 1}: all hits
    assert _result(metrics.TopKCategoricalAccuracy(k=2), ONE_HOT, SCORES) == 1.0
    assert _result(metrics.SparseTopKCategoricalAccuracy(k=2), [2, 1, 0, 1], SCORES) == 1.0
    # top 1: hits in rows 0 and 2 (weights 1, 1) of total weight 4.5
    assert _result(metrics.SparseTopKCategoricalAccuracy(k=1), [2, 1, 0, 1], SCORES,
                   sample_weight=[1, 2, 1, 0.5]) == pytest.approx(2 / 4.5)
    ids = [[2, 1], [0, 1], [0, 2], [2, 0]]  # from_sorted_ids: the top classes already chosen
    assert _result(metrics.SparseTopKCategoricalAccuracy(k=1, from_sorted_ids=True),
                   [2, 1, 0, 1], ids) == 0.5


def test_mean_iou_by_hand_and_against_keras():
    y_true, y_pred = [0, 1, 2, 1, 0, 2], [0, 1, 1, 1, 2, 2]
    # class 0: TP 1, union 2 -> 1/2; class 1: TP 2, union 3 -> 2/3; class 2: TP 1, union 3
    want = (1 / 2 + 2 / 3 + 1 / 3) / 3
    assert _result(metrics.MeanIoU(num_classes=3), y_true, y_pred) == pytest.approx(want)
    assert _result(metrics.MeanIoU(num_classes=4, ignore_class=0), y_true, y_pred,
                   sample_weight=[1, 2, 1, 1, 1, 3]) == pytest.approx(0.75)
    dense = metrics.MeanIoU(num_classes=3, sparse_y_true=False, sparse_y_pred=False)
    assert _result(dense, ONE_HOT, SCORES) == pytest.approx(0.3333334)
    iou = metrics.IoU(num_classes=3, target_class_ids=[1, 2])
    assert _result(iou, y_true, y_pred) == pytest.approx(0.5)


REG_TRUE = [[1.0, 2.0], [3.0, -1.0], [0.5, 0.0], [2.0, 4.0]]
REG_PRED = [[1.5, 0.5], [2.0, 1.0], [0.0, 0.5], [2.5, 3.0]]


def test_r2_score_by_hand_and_against_keras():
    t, p = np.array(REG_TRUE), np.array(REG_PRED)
    per_output = 1 - ((t - p) ** 2).sum(0) / ((t - t.mean(0)) ** 2).sum(0)
    np.testing.assert_allclose(_result(metrics.R2Score(class_aggregation=None), REG_TRUE,
                                       REG_PRED), per_output, rtol=1e-6)
    np.testing.assert_allclose(per_output, [0.5254238, 0.4915254], rtol=1e-6)  # Keras
    assert _result(metrics.R2Score(), REG_TRUE, REG_PRED) == pytest.approx(0.5084746)
    assert _result(metrics.R2Score(class_aggregation="variance_weighted_average"), REG_TRUE,
                   REG_PRED) == pytest.approx(0.4983051)
    weighted = metrics.R2Score(num_regressors=1)
    assert _result(weighted, REG_TRUE, REG_PRED, sample_weight=[1, 2, 1, 0.5]) == \
        pytest.approx(0.2158072, abs=2e-6)


def test_regression_metrics_match_keras():
    errors = (np.array(REG_PRED) - np.array(REG_TRUE)) ** 2
    assert _result(metrics.RootMeanSquaredError(), REG_TRUE, REG_PRED) == \
        pytest.approx(np.sqrt(errors.mean()))
    assert _result(metrics.RootMeanSquaredError(), REG_TRUE, REG_PRED,
                   sample_weight=[1, 2, 1, 0.5]) == pytest.approx(1.2304019)
    assert _result(metrics.CosineSimilarity(), REG_TRUE, REG_PRED) == pytest.approx(0.5969076)
    assert _result(metrics.LogCoshError(), REG_TRUE, REG_PRED) == pytest.approx(0.4410578)
    assert _result(metrics.MeanSquaredLogarithmicError(), REG_TRUE, REG_PRED) == \
        pytest.approx(0.1869774, rel=1e-5)
    # y_true 0 divides by epsilon: Keras prints 62500064 as well
    assert _result(metrics.MeanAbsolutePercentageError(), REG_TRUE, REG_PRED) == \
        pytest.approx(62500064.0, rel=1e-5)


@pytest.mark.parametrize("metric", [
    metrics.AUC(curve="PR", num_thresholds=50, multi_label=True), metrics.Precision(top_k=2),
    metrics.Recall(thresholds=[0.2, 0.4]), metrics.F1Score(average="macro"),
    metrics.FBetaScore(beta=0.5), metrics.MeanIoU(4), metrics.R2Score(num_regressors=2),
    metrics.TopKCategoricalAccuracy(k=3), metrics.SparseTopKCategoricalAccuracy(),
    metrics.RootMeanSquaredError(), metrics.CosineSimilarity(axis=-1), metrics.LogCoshError(),
    metrics.KLDivergence(), metrics.Hinge(), metrics.TruePositives(thresholds=[0.1, 0.9]),
], ids=lambda m: type(m).__name__)
def test_config_round_trip(metric):
    again = metrics.deserialize(metrics.serialize(metric))
    assert type(again) is type(metric) and again.get_config() == metric.get_config()


@pytest.mark.parametrize("name", ["precision", "recall", "auc", "f1_score", "r2_score",
                                  "root_mean_squared_error", "top_k_categorical_accuracy",
                                  "logcosh", "mape", "kld"])
def test_compile_names(name):
    assert metrics.get(name).name == name


def test_model_fit_reports_new_metrics():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype(np.float32)
    y = (x[:, :1] > 0).astype(np.float32)
    model = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(1, "sigmoid")])
    model.compile("adam", "binary_crossentropy",
                  metrics=[metrics.AUC(), metrics.Precision(), metrics.Recall()])
    history = model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    assert {"auc", "precision", "recall"} <= set(history.history)
