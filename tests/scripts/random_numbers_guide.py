# The examples of TensorFlow's guide "Random number generation", written as the guide writes
# them. Only the import line differs from the guide. Not here: the cells with virtual CPU devices
# and tf.distribute strategies (MirroredStrategy, strategy.run, experimental_distribute_values_
# from_function), and saving a generator inside a SavedModel (graph internals). The numbers
# differ from TensorFlow's (see docs/numerics.md); that they repeat is what the guide shows.
import tensorflowish as tf

# The tf.random.Generator class
g1 = tf.random.Generator.from_seed(1)
print('g1', g1.normal(shape=[2, 3]))
g2 = tf.random.get_global_generator()
print('g2', g2.normal(shape=[2, 3]))

g1 = tf.random.Generator.from_seed(1, alg='philox')
print('philox', g1.normal(shape=[2, 3]))

g = tf.random.Generator.from_non_deterministic_state()
print('nondeterministic', g.normal(shape=[2, 3]))

g = tf.random.Generator.from_seed(1)
print('first', g.normal([]))
print('second', g.normal([]))
g.reset_from_seed(1)
print('reset', g.normal([]))

# Creating independent random-number streams
g = tf.random.Generator.from_seed(1)
print('parent', g.normal([]))
new_gs = g.split(3)
for new_g in new_gs:
  print('child', new_g.normal([]))
print('parent_after', g.normal([]))

# Interactions with tf.function
g = tf.random.Generator.from_seed(1)


@tf.function
def foo():
  return g.normal([])


print('function', foo())

g = None


@tf.function
def foo():
  global g
  if g is None:
    g = tf.random.Generator.from_seed(1)
  return g.normal([])


print('lazy', foo())
print('lazy', foo())

num_traces = 0


@tf.function
def foo(g):
  global num_traces
  num_traces += 1
  return g.normal([])


foo(tf.random.Generator.from_seed(1))
foo(tf.random.Generator.from_seed(2))
print('num_traces', num_traces)

# Saving generators: checkpointing
filename = "./checkpoint"
g = tf.random.Generator.from_seed(1)
cp = tf.train.Checkpoint(generator=g)
print('saved_at', g.normal([]))

cp.write(filename)
print("RNG stream from saving point:")
print('after_save', g.normal([]))
print('after_save', g.normal([]))

cp.restore(filename)
print("RNG stream from restoring point:")
print('after_restore', g.normal([]))
print('after_restore', g.normal([]))

# Stateless RNGs
print('stateless', tf.random.stateless_normal(shape=[2, 3], seed=[1, 2]))
print('stateless', tf.random.stateless_normal(shape=[2, 3], seed=[1, 2]))
