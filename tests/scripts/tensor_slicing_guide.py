# The examples of TensorFlow's guide "Tensor slicing", written as the guide writes them. Only the
# import line differs from the guide. Left out: the cells on string tensors (`alphabet`), ragged
# tensors (`tf.ragged.constant`) and sparse tensors (`tf.SparseTensor`, `tf.sparse.to_dense`).
import numpy as np
import tensorflowish as tf

t1 = tf.constant([0, 1, 2, 3, 4, 5, 6, 7])
print("slice_t1", tf.slice(t1, begin=[1], size=[3]).numpy().tolist())
print("t1_1_4", t1[1:4].numpy().tolist())
print("t1_last3", t1[-3:].numpy().tolist())

t2 = tf.constant([[0, 1, 2, 3, 4],
                  [5, 6, 7, 8, 9],
                  [10, 11, 12, 13, 14],
                  [15, 16, 17, 18, 19]])
print("t2_slice", t2[:-1, 1:3].numpy().tolist())

t3 = tf.constant([[[1, 3, 5, 7],
                   [9, 11, 13, 15]],
                  [[17, 19, 21, 23],
                   [25, 27, 29, 31]]
                  ])
print("slice_t3", tf.slice(t3, begin=[1, 1, 0], size=[1, 1, 2]).numpy().tolist())

print("gather_t1", tf.gather(t1, indices=[0, 3, 6]).numpy().tolist())
# This is similar to doing
print("t1_step3", t1[::3].numpy().tolist())

t4 = tf.constant([[0, 5],
                  [1, 6],
                  [2, 7],
                  [3, 8],
                  [4, 9]])
print("gather_nd_t4", tf.gather_nd(t4, indices=[[2], [3], [0]]).numpy().tolist())

t5 = np.reshape(np.arange(18), [2, 3, 3])
print("gather_nd_t5", tf.gather_nd(t5, indices=[[0, 0, 0], [1, 2, 1]]).numpy().tolist())
# Return a list of two matrices
print("two_matrices",
      tf.gather_nd(t5, indices=[[[0, 0], [0, 2]], [[1, 0], [1, 2]]]).numpy().tolist())
# Return one matrix
print("one_matrix", tf.gather_nd(t5, indices=[[0, 0], [0, 2], [1, 0], [1, 2]]).numpy().tolist())

t6 = tf.constant([10])
indices = tf.constant([[1], [3], [5], [7], [9]])
data = tf.constant([2, 4, 6, 8, 10])
print("scatter_nd", tf.scatter_nd(indices=indices, updates=data, shape=t6).numpy().tolist())

# Gather values from one tensor by specifying indices
new_indices = tf.constant([[0, 2], [2, 1], [3, 3]])
t7 = tf.gather_nd(t2, indices=new_indices)
# Add these values into a new tensor
t8 = tf.scatter_nd(indices=new_indices, updates=t7, shape=tf.constant([4, 5]))
print("t8", t8.numpy().tolist())

t11 = tf.constant([[2, 7, 0],
                   [9, 0, 1],
                   [0, 3, 8]])
# Convert the tensor into a magic square by inserting numbers at appropriate indices
t12 = tf.tensor_scatter_nd_add(t11, indices=[[0, 2], [1, 1], [2, 0]], updates=[6, 5, 4])
print("t12", t12.numpy().tolist())

# Convert the tensor into an identity matrix
t13 = tf.tensor_scatter_nd_sub(t11,
                               indices=[[0, 0], [0, 1], [1, 0], [1, 1], [1, 2], [2, 1], [2, 2]],
                               updates=[1, 7, 9, -1, 1, 3, 7])
print("t13", t13.numpy().tolist())

t14 = tf.constant([[-2, -7, 0],
                   [-9, 0, 1],
                   [0, -3, -8]])
t15 = tf.tensor_scatter_nd_min(t14, indices=[[0, 2], [1, 1], [2, 0]], updates=[-6, -5, -4])
print("t15", t15.numpy().tolist())

t16 = tf.tensor_scatter_nd_max(t14, indices=[[0, 2], [1, 1], [2, 0]], updates=[6, 5, 4])
print("t16", t16.numpy().tolist())
