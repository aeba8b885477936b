# The examples of TensorFlow's guide "Introduction to tensors", written as the guide writes them.
# Only the import line differs from the guide. Left out: the cells on ragged tensors
# (`tf.ragged`), string tensors (`tf.strings`) and sparse tensors (`tf.sparse`).
import numpy as np
import tensorflowish as tf

rank_0_tensor = tf.constant(4)
print("rank_0", rank_0_tensor.dtype.name, rank_0_tensor.numpy())
rank_1_tensor = tf.constant([2.0, 3.0, 4.0])
print("rank_1", rank_1_tensor.dtype.name)
rank_2_tensor = tf.constant([[1, 2],
                             [3, 4],
                             [5, 6]], dtype=tf.float16)
print("rank_2", rank_2_tensor.dtype.name, rank_2_tensor.shape)
rank_3_tensor = tf.constant([
  [[0, 1, 2, 3, 4],
   [5, 6, 7, 8, 9]],
  [[10, 11, 12, 13, 14],
   [15, 16, 17, 18, 19]],
  [[20, 21, 22, 23, 24],
   [25, 26, 27, 28, 29]],])
print("np_array", np.array(rank_2_tensor).tolist())

a = tf.constant([[1, 2],
                 [3, 4]])
b = tf.constant([[1, 1],
                 [1, 1]])  # Could have also said `tf.ones([2,2], dtype=tf.int32)`
print("add", tf.add(a, b).numpy().tolist(), (a + b).numpy().tolist())
print("multiply", tf.multiply(a, b).numpy().tolist(), (a * b).numpy().tolist())
print("matmul", tf.matmul(a, b).numpy().tolist(), (a @ b).numpy().tolist())

c = tf.constant([[4.0, 5.0], [10.0, 1.0]])
print("reduce_max", tf.reduce_max(c).numpy())
print("argmax", tf.math.argmax(c).numpy().tolist())
print("softmax", np.round(tf.nn.softmax(c).numpy(), 4).tolist())
print("convert", tf.convert_to_tensor([1, 2, 3]).numpy().tolist(),
      tf.reduce_max([1, 2, 3]).numpy(), tf.reduce_max(np.array([1, 2, 3])).numpy())

rank_4_tensor = tf.zeros([3, 2, 4, 5])
print("Type_of_every_element:", rank_4_tensor.dtype.name)
print("Number_of_axes:", rank_4_tensor.ndim)
print("Shape_of_tensor:", rank_4_tensor.shape)
print("Elements_along_axis_0_of_tensor:", rank_4_tensor.shape[0])
print("Elements_along_the_last_axis_of_tensor:", rank_4_tensor.shape[-1])
print("Total_number_of_elements_(3*2*4*5):", tf.size(rank_4_tensor).numpy())
print("rank", tf.rank(rank_4_tensor).numpy(), "shape", tf.shape(rank_4_tensor).numpy().tolist())

rank_1_tensor = tf.constant([0, 1, 1, 2, 3, 5, 8, 13, 21, 34])
print("First:", rank_1_tensor[0].numpy())
print("Second:", rank_1_tensor[1].numpy())
print("Last:", rank_1_tensor[-1].numpy())
print("Everything:", rank_1_tensor[:].numpy().tolist())
print("Before_4:", rank_1_tensor[:4].numpy().tolist())
print("From_4_to_the_end:", rank_1_tensor[4:].numpy().tolist())
print("From_2,_before_7:", rank_1_tensor[2:7].numpy().tolist())
print("Every_other_item:", rank_1_tensor[::2].numpy().tolist())
print("Reversed:", rank_1_tensor[::-1].numpy().tolist())
print("item_1_1", rank_2_tensor[1, 1].numpy())
print("Second_row:", rank_2_tensor[1, :].numpy().tolist())
print("Second_column:", rank_2_tensor[:, 1].numpy().tolist())
print("Last_row:", rank_2_tensor[-1, :].numpy().tolist())
print("First_item_in_last_column:", rank_2_tensor[0, -1].numpy())
print("Skip_the_first_row:", rank_2_tensor[1:, :].numpy().tolist())
print("rank_3_slice", rank_3_tensor[:, :, 4].numpy().tolist())

x = tf.constant([[1], [2], [3]])
print("as_list", x.shape.as_list())
reshaped = tf.reshape(x, [1, 3])
print("reshaped", x.shape, reshaped.shape)
print("flat", tf.reshape(rank_3_tensor, [-1]).numpy().tolist()[:6])
print("reshape_6_5", tf.reshape(rank_3_tensor, [3*2, 5]).shape)
print("reshape_3_m1", tf.reshape(rank_3_tensor, [3, -1]).shape)
try:
  tf.reshape(rank_3_tensor, [7, -1])
except Exception as e:
  print("reshape_error", f"{type(e).__name__}")

the_f64_tensor = tf.constant([2.2, 3.3, 4.4], dtype=tf.float64)
the_f16_tensor = tf.cast(the_f64_tensor, dtype=tf.float16)
# Now, cast to an uint8 and lose the decimal precision
the_u8_tensor = tf.cast(the_f16_tensor, dtype=tf.uint8)
print("u8", the_u8_tensor.numpy().tolist())

x = tf.constant([1, 2, 3])
y = tf.constant(2)
z = tf.constant([2, 2, 2])
# All of these are the same computation.
print("broadcast", tf.multiply(x, 2).numpy().tolist(), (x * y).numpy().tolist(),
      (x * z).numpy().tolist())
x = tf.reshape(x, [3, 1])
y = tf.range(1, 5)
print("outer", tf.multiply(x, y).numpy().tolist())
print("broadcast_to", tf.broadcast_to(tf.constant([1, 2, 3]), [3, 3]).numpy().tolist())
