# TensorFlow's "tf.data: Build TensorFlow input pipelines" guide, the cells that need no network,
# TFRecord, ragged/sparse tensors or tf.strings; the downloaded files are replaced by small local
# ones written first. Only the import line differs from the guide.
import os
import pathlib
import tempfile

import numpy as np

import tensorflowish as tf

np.set_printoptions(precision=4)
workdir = pathlib.Path(tempfile.mkdtemp())
titanic_file = str(workdir / "titanic.csv")
with open(titanic_file, "w") as f:
  f.write("survived,sex,age,n_siblings_spouses,parch,fare,class,deck,embark_town,alone\n")
  for i in range(20):
    f.write(f"{i % 2},{'male' if i % 3 else 'female'},{20 + i}.0,{i % 2},0,{7.25 + i:.2f},"
            f"Third,unknown,Southampton,{'y' if i % 2 else 'n'}\n")

# Basic mechanics
dataset = tf.data.Dataset.from_tensor_slices([8, 3, 0, 8, 2, 1])
print("dataset", dataset)
for elem in dataset:
  print("elem", elem.numpy())
it = iter(dataset)
print("next", next(it).numpy())
print("reduce", dataset.reduce(0, lambda state, value: state + value).numpy())

# Dataset structure
dataset1 = tf.data.Dataset.from_tensor_slices(tf.random.uniform([4, 10]))
print("spec1", dataset1.element_spec)
dataset2 = tf.data.Dataset.from_tensor_slices(
   (tf.random.uniform([4]),
    tf.random.uniform([4, 100], maxval=100, dtype=tf.int32)))
print("spec2", dataset2.element_spec)
dataset3 = tf.data.Dataset.zip((dataset1, dataset2))
print("spec3", dataset3.element_spec)
dataset1 = tf.data.Dataset.from_tensor_slices(
    tf.random.uniform([4, 10], minval=1, maxval=10, dtype=tf.int32))
for z in dataset1:
  print("z", z.numpy().shape)
dataset2 = tf.data.Dataset.from_tensor_slices(
   (tf.random.uniform([4]),
    tf.random.uniform([4, 100], maxval=100, dtype=tf.int32)))
for a, (b,c) in dataset3:
  print('shapes: {a.shape}, {b.shape}, {c.shape}'.format(a=a, b=b, c=c))

# Consuming NumPy arrays
train, test = (np.random.rand(60, 28, 28), np.arange(60) % 10), None
images, labels = train
images = images/255
dataset = tf.data.Dataset.from_tensor_slices((images, labels))
print("numpy", dataset.element_spec[0].shape, dataset.element_spec[1].dtype)

# Consuming Python generators
def count(stop):
  i = 0
  while i<stop:
    yield i
    i += 1

ds_counter = tf.data.Dataset.from_generator(count, args=[25], output_types=tf.int32, output_shapes = (), )
for count_batch in ds_counter.repeat().batch(10).take(10):
  print("count_batch", count_batch.numpy())

def gen_series():
  i = 0
  while True:
    size = np.random.randint(0, 10)
    yield i, np.random.normal(size=(size,))
    i += 1

for i, series in gen_series():
  print(i, ":", str(series))
  if i > 5:
    break

ds_series = tf.data.Dataset.from_generator(
    gen_series,
    output_types=(tf.int32, tf.float32),
    output_shapes=((), (None,)))
print("series_spec", ds_series)
ds_series_batch = ds_series.shuffle(20).padded_batch(10)
ids, sequence_batch = next(iter(ds_series_batch))
print("ids", ids.numpy().shape)
print("sequence_batch", sequence_batch.numpy().shape[0])

# Consuming CSV data
titanic_batches = tf.data.experimental.make_csv_dataset(
    titanic_file, batch_size=4,
    label_name="survived")
for feature_batch, label_batch in titanic_batches.take(1):
  print("'survived': {}".format(label_batch))
  print("features:")
  for key, value in feature_batch.items():
    print("  {!r:20s}: {}".format(key, value))
titanic_batches = tf.data.experimental.make_csv_dataset(
    titanic_file, batch_size=4,
    label_name="survived", select_columns=['class', 'fare', 'survived'])
for feature_batch, label_batch in titanic_batches.take(1):
  print("selected", sorted(feature_batch), label_batch.shape)

# Consuming sets of files
flowers_root = workdir / "flower_photos"
for name in ("daisy", "roses"):
  (flowers_root / name).mkdir(parents=True)
  for k in range(3):
    (flowers_root / name / f"{k}.jpg").write_bytes(b"jpeg")
for item in flowers_root.glob("*"):
  print(item.name)
list_ds = tf.data.Dataset.list_files(str(flowers_root/'*/*'))
print("files", len(list(list_ds.as_numpy_iterator())))

# Batching dataset elements
inc_dataset = tf.data.Dataset.range(100)
dec_dataset = tf.data.Dataset.range(0, -100, -1)
dataset = tf.data.Dataset.zip((inc_dataset, dec_dataset))
batched_dataset = dataset.batch(4)
for batch in batched_dataset.take(4):
  print("batch", [arr.numpy() for arr in batch])
print("batched_spec", batched_dataset)
batched_dataset = dataset.batch(7, drop_remainder=True)
print("dropped_spec", batched_dataset)

dataset = tf.data.Dataset.range(100)
dataset = dataset.map(lambda x: tf.fill([tf.cast(x, tf.int32)], x))
dataset = dataset.padded_batch(4, padded_shapes=(None,))
for batch in dataset.take(2):
  print("padded", batch.numpy().tolist())

# Training workflows
titanic_batches = tf.data.experimental.make_csv_dataset(titanic_file, batch_size=8, num_epochs=1,
                                                        shuffle=False)
def plot_batch_sizes(ds):
  batch_sizes = [batch.shape[0] for batch in ds]
  return batch_sizes
titanic_batches = titanic_batches.map(lambda features: features["age"])
print("repeat3", plot_batch_sizes(titanic_batches.repeat(3)))
print("repeat3_batch", plot_batch_sizes(titanic_batches.unbatch().repeat(3).batch(8)))

epochs = 3
dataset = titanic_batches.unbatch().batch(8)
for epoch in range(epochs):
  for batch in dataset:
    pass
  print("End of epoch: ", epoch)

counter = tf.data.experimental.Counter()
lines = tf.data.Dataset.range(20)
dataset = tf.data.Dataset.zip((counter, lines))
dataset = dataset.shuffle(buffer_size=100)
dataset = dataset.batch(20)
print("shuffled", dataset)
n,line_batch = next(iter(dataset))
print("shuffled_ids", sorted(n.numpy().tolist()) == list(range(20)))

# Time series windowing
range_ds = tf.data.Dataset.range(100000)
batches = range_ds.batch(10, drop_remainder=True)
for batch in batches.take(5):
  print("ts_batch", batch.numpy())
def dense_1_step(batch):
  # Shift features and labels one step relative to each other.
  return batch[:-1], batch[1:]
predict_dense_1_step = batches.map(dense_1_step)
for features, label in predict_dense_1_step.take(3):
  print("dense_1_step", features.numpy(), " => ", label.numpy())
batches = range_ds.batch(15, drop_remainder=True)
def label_next_5_steps(batch):
  return (batch[:-5],   # Inputs: All except the last 5 steps
          batch[-5:])   # Labels: The last 5 steps
predict_5_steps = batches.map(label_next_5_steps)
for features, label in predict_5_steps.take(3):
  print("next_5", features.numpy(), " => ", label.numpy())
feature_length = 10
label_length = 3
features = range_ds.batch(feature_length, drop_remainder=True)
labels = range_ds.batch(feature_length).skip(1).map(lambda labels: labels[:label_length])
predicted_steps = tf.data.Dataset.zip((features, labels))
for features, label in predicted_steps.take(5):
  print("zipped", features.numpy(), " => ", label.numpy())

window_size = 5
windows = range_ds.window(window_size, shift=1)
for sub_ds in windows.take(5):
  print("window_ds", type(sub_ds).__name__)
for x in windows.flat_map(lambda x: x).take(30):
  print(x.numpy(), end=' ')
print()
def sub_to_batch(sub):
  return sub.batch(window_size, drop_remainder=True)
for example in windows.flat_map(sub_to_batch).take(5):
  print("window", example.numpy())
def make_window_dataset(ds, window_size=5, shift=1, stride=1):
  windows = ds.window(window_size, shift=shift, stride=stride)
  def sub_to_batch(sub):
    return sub.batch(window_size, drop_remainder=True)
  windows = windows.flat_map(sub_to_batch)
  return windows
ds = make_window_dataset(range_ds, window_size=10, shift = 5, stride=3)
for example in ds.take(10):
  print("strided", example.numpy())
dense_labels_ds = ds.map(dense_1_step)
for inputs,labels in dense_labels_ds.take(3):
  print("dense_labels", inputs.numpy(), "=>", labels.numpy())

# Resampling (with a small made-up imbalanced set instead of the credit card data)
features = np.random.rand(200, 3).astype(np.float32)
labels = (np.arange(200) % 10 == 0).astype(np.int64)
negative_ds = (
  tf.data.Dataset.from_tensor_slices((features[labels == 0], labels[labels == 0]))
    .shuffle(100).repeat())
positive_ds = (
  tf.data.Dataset.from_tensor_slices((features[labels == 1], labels[labels == 1]))
    .shuffle(100).repeat())
balanced_ds = tf.data.Dataset.sample_from_datasets(
    [negative_ds, positive_ds], [0.5, 0.5]).batch(10)
seen = [label_batch.numpy().mean() for _, label_batch in balanced_ds.take(100)]
print("balanced", round(float(np.mean(seen)), 1))

# Using high-level APIs: tf.keras
images = np.random.rand(256, 28, 28).astype(np.float32)
labels = (np.arange(256) % 10).astype(np.int64)
fmnist_train_ds = tf.data.Dataset.from_tensor_slices((images, labels))
fmnist_train_ds = fmnist_train_ds.shuffle(5000).batch(32)
model = tf.keras.Sequential([
  tf.keras.layers.Flatten(),
  tf.keras.layers.Dense(10)
])
model.compile(optimizer='adam',
              loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=['accuracy'])
model.fit(fmnist_train_ds.repeat(), epochs=2, steps_per_epoch=20, verbose=0)
loss, accuracy = model.evaluate(fmnist_train_ds, verbose=0)
print("Loss :", loss > 0)
predict_ds = tf.data.Dataset.from_tensor_slices(images).batch(32)
result = model.predict(predict_ds, steps = 2, verbose=0)
print("predict", result.shape)
result = model.predict(fmnist_train_ds, steps = 2, verbose=0)
print("predict_pairs", result.shape)
