"""Trains one small model per public layer family under a tf.distribute
strategy and writes the per-step losses and final weights; run by
tests/test_distributed.py in fresh processes (logical devices and collective
ops must be configured before TensorFlow initialises its runtime).

    python tests/distributed_worker.py mirrored OUT.npz [MODEL ...]
        Two logical CPU devices; every model trained with `model.fit` on the
        default strategy (one device), then under MirroredStrategy over both.
    python tests/distributed_worker.py multiworker OUT.npz [MODEL ...]
        One worker of a MultiWorkerMirroredStrategy cluster (TF_CONFIG in the
        environment; one CPU replica per worker), training with a custom loop
        (`strategy.run` over `experimental_distribute_dataset`), because
        Keras 3.15's `fit` fails under this strategy (keras-team/keras#20585:
        `_maybe_symbolic_build` reduces a nest of PerReplica batches, and the
        metric results are reduced along axis 0 although they are scalars).
        Then each task trains every other model with `model.fit` on the
        default strategy (task 0 the first, task 1 the second, ...): the
        single-process reference.

MODEL: the keys of `models` below (default: all of them but Seq2Seq).

Every model is built outside any strategy after `keras.utils.set_random_seed`
(so every process gets the same initial weights), then rebuilt in the
strategy's scope with those weights copied in, and trained with plain SGD
for `STEPS` steps on one fixed global batch of `BATCH` examples, with
`jit_compile=JIT`. The global batch is split over the replicas (and over the
workers: `AutoShardPolicy.DATA`), so a distributed step computes the same
mean loss and the same gradient as a single-device step; only the order of
the summations differs. The npz holds, for the modes `single` and `dist`,
`<mode>/<model>/loss` (the loss of each step, before its update),
`<mode>/<model>/w<i>` (the final weights) and `<mode>/<model>/init` (a
checksum of the initial weights); for multiworker also `task` and
`replicas` (`num_replicas_in_sync`).
"""

import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

STEPS = 3
BATCH = 8  # global batch, divisible by 2 replicas
LEARNING_RATE = 0.1
JIT = False
T, F, U = 5, 3, 4  # time steps, features, units
V, E = 11, 4  # memory networks: vocabulary (0 = padding), embedding size


def _main():
    mode, out = sys.argv[1], sys.argv[2]
    names = sys.argv[3:]

    import tensorflow as tf

    if mode == "mirrored":
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        devices = [d.name for d in tf.config.list_logical_devices("CPU")]
        assert len(devices) == 2, devices
        strategy = tf.distribute.MirroredStrategy(
            devices, cross_device_ops=tf.distribute.ReductionToOneDevice())
    elif mode == "multiworker":
        strategy = tf.distribute.MultiWorkerMirroredStrategy(
            communication_options=tf.distribute.experimental.CommunicationOptions(
                implementation=tf.distribute.experimental
                .CommunicationImplementation.RING))
    else:
        raise SystemExit(f"unknown mode {mode!r}")

    # Grappler's graph rewrites take about 40% of the time of these tiny
    # runs (mostly graph building); single-device and distributed runs both
    # go without them, so they compute the same arithmetic.
    tf.config.optimizer.set_experimental_options(
        {"disable_meta_optimizer": True})

    import keras
    import numpy as np

    import keras_seqmem

    def regression(layer_fn, inputs_fn):
        """Functional model: inputs -> layer -> Dense(1); MSE."""
        def build():
            inputs = inputs_fn()
            x = layer_fn()(inputs)
            return keras.Model(inputs, keras.layers.Dense(1)(x)), "mse"
        return build

    def sequence_data(rng):
        x = rng.standard_normal((BATCH, T, F)).astype("float32")
        y = rng.standard_normal((BATCH, 1)).astype("float32")
        return x, y

    def seq_input():
        return keras.Input((None, F))

    def story_data(rng, with_values=False):
        story = rng.integers(0, V, (BATCH, 6, 4)).astype("int32")
        story[:, :, 0] = rng.integers(1, V, (BATCH, 6))
        story[:, 4:] = 0  # padding slots
        question = rng.integers(1, V, (BATCH, 3)).astype("int32")
        answer = rng.integers(1, V, (BATCH,)).astype("int32")
        if with_values:
            values = rng.integers(1, V, (BATCH, 6, 2)).astype("int32")
            return (story, values, question), answer
        return (story, question), answer

    def memn2n():
        story = keras.Input((None, None), dtype="int32")
        question = keras.Input((None,), dtype="int32")
        layer = keras_seqmem.MemN2N(V, E, hops=2, memory_size=6)
        model = keras.Model([story, question], layer([story, question]))
        return model, "sce"

    def kv_network():
        keys = keras.Input((None, None), dtype="int32")
        values = keras.Input((None, None), dtype="int32")
        question = keras.Input((None,), dtype="int32")
        layer = keras_seqmem.KeyValueMemoryNetwork(V, E, hops=2,
                                                   memory_size=6)
        model = keras.Model([keys, values, question],
                            layer([keys, values, question]))
        return model, "sce"

    def key_value_memory():
        query = keras.Input((F,))
        keys = keras.Input((None, F))
        values = keras.Input((None, 2))
        q = keras.layers.Dense(F)(query)
        read = keras_seqmem.KeyValueMemory()([q, keys, values])
        model = keras.Model([query, keys, values], keras.layers.Dense(1)(read))
        return model, "mse"

    def key_value_data(rng):
        query = rng.standard_normal((BATCH, F)).astype("float32")
        keys = rng.standard_normal((BATCH, 6, F)).astype("float32")
        values = rng.standard_normal((BATCH, 6, 2)).astype("float32")
        y = rng.standard_normal((BATCH, 1)).astype("float32")
        return (query, keys, values), y

    def attentive_decoder():
        targets = keras.Input((None, F))
        memory = keras.Input((None, 2))
        decoder = keras_seqmem.AttentiveDecoder(
            keras.layers.LSTMCell(U),
            attention=keras_seqmem.BahdanauAttention(U))
        x = decoder([targets, memory])
        return keras.Model([targets, memory], keras.layers.Dense(1)(x)), "mse"

    def decoder_data(rng):
        targets = rng.standard_normal((BATCH, T, F)).astype("float32")
        memory = rng.standard_normal((BATCH, 4, 2)).astype("float32")
        y = rng.standard_normal((BATCH, T, 1)).astype("float32")
        return (targets, memory), y

    def seq2seq():
        model = keras_seqmem.Seq2Seq(source_vocab_size=V, target_vocab_size=V,
                                     embedding_dim=E, units=U,
                                     max_decode_length=T)
        return model, "sce"

    def seq2seq_data(rng):
        # No padding: a masked mean would divide by each replica's own count.
        source = rng.integers(3, V, (BATCH, 6)).astype("int32")
        decoder_inputs = rng.integers(3, V, (BATCH, T)).astype("int32")
        decoder_inputs[:, 0] = 1
        targets = rng.integers(2, V, (BATCH, T)).astype("int32")
        return (source, decoder_inputs), targets

    def act_rnn():
        cell = keras.layers.LSTMCell(U)
        act = keras_seqmem.ACT(
            cell, max_ponder_steps=4, time_penalty=0.01,
            halting_bias_initializer=keras.initializers.Constant(-0.5))
        return keras_seqmem.ACTRNN(act)

    models = {
        "LeakyRNN": (regression(
            lambda: keras_seqmem.LeakyRNN(U, gamma_range=(1.0, 4.0),
                                          trainable_gamma=True),
            seq_input), sequence_data),
        "PeepholeLSTM": (regression(
            lambda: keras_seqmem.PeepholeLSTM(U), seq_input), sequence_data),
        "CoupledLSTM": (regression(
            lambda: keras_seqmem.CoupledLSTM(U, use_peepholes=True), seq_input),
            sequence_data),
        "AttentiveDecoder": (attentive_decoder, decoder_data),
        "Seq2Seq": (seq2seq, seq2seq_data),
        "KeyValueMemory": (key_value_memory, key_value_data),
        "MemN2N": (memn2n, story_data),
        "KeyValueMemoryNetwork": (kv_network,
                                  lambda rng: story_data(rng, True)),
        "NTM": (regression(
            lambda: keras_seqmem.NTM(U, memory_size=5, word_size=3, units=U,
                                     memory_init="learned"),
            seq_input), sequence_data),
        "ACTRNN": (regression(act_rnn, seq_input), sequence_data),
    }
    # Seq2Seq (a bidirectional encoder and the AttentiveDecoder with
    # BahdanauAttention of the "AttentiveDecoder" model) on request only: it
    # takes as long to trace as the other models together.
    names = names or [n for n in models if n != "Seq2Seq"]

    SCE = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def make(name):
        build, data_fn = models[name]
        x, y = data_fn(np.random.default_rng(1))
        keras.utils.set_random_seed(0)
        model, loss = build()
        if not model.built:
            model(x)  # builds subclassed models (Seq2Seq)
        return model, loss, x, y

    class StepLosses(keras.callbacks.Callback):
        """Per-step losses from the running epoch means Keras reports."""

        def on_train_begin(self, logs=None):
            self.means = []

        def on_train_batch_end(self, batch, logs=None):
            self.means.append(float(logs["loss"]))

        def losses(self):
            m = np.asarray(self.means, "float64")
            k = np.arange(1, len(m) + 1)
            return k * m - (k - 1) * np.concatenate([[0.0], m[:-1]])

    def per_example_loss(kind, y, pred):
        if kind == "sce":
            per = keras.losses.sparse_categorical_crossentropy(
                y, pred, from_logits=True)
        else:
            per = keras.losses.mean_squared_error(y, pred)
        # Keras' "sum_over_batch_size": the mean over every non-batch axis.
        return tf.reshape(per, (tf.shape(per)[0], -1))

    def train_custom_loop(name, strategy, weights):
        """MultiWorkerMirroredStrategy: `strategy.run` over the distributed
        dataset (Keras 3.15's `fit` fails under it: see the docstring)."""
        with strategy.scope():
            model, loss, x, y = make(name)
            model.set_weights(weights)
            optimizer = keras.optimizers.SGD(LEARNING_RATE)
            optimizer.build(model.trainable_variables)
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.DATA)
        dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(
            BATCH).repeat().with_options(options)
        batches = iter(strategy.experimental_distribute_dataset(dataset))

        def replica_step(batch):
            inputs, targets = batch
            with tf.GradientTape() as tape:
                pred = model(inputs, training=True)
                per = tf.reduce_mean(per_example_loss(loss, targets, pred), 1)
                value = tf.nn.compute_average_loss(
                    per, global_batch_size=BATCH)
                if model.losses:  # ACT's ponder cost: a mean per replica
                    value += tf.nn.scale_regularization_loss(
                        tf.add_n(model.losses))
            grads = tape.gradient(value, model.trainable_variables)
            # Keras' optimizer all-reduces (sums) the gradients of the
            # replicas of every worker before the update.
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            return value

        @tf.function
        def step(batch):
            per_replica = strategy.run(replica_step, args=(batch,))
            return strategy.reduce("SUM", per_replica, axis=None)

        losses = [float(step(next(batches))) for _ in range(STEPS)]
        return {
            "loss": np.asarray(losses, "float64"),
            "init": np.asarray([float(np.sum(np.abs(w))) for w in weights]),
            **{f"w{i}": w for i, w in enumerate(model.get_weights())},
        }

    def train(name, strategy, weights):
        """Build in the strategy's scope with `weights`, train, return the
        per-step losses and the final weights."""
        with strategy.scope():
            model, loss, x, y = make(name)
            model.set_weights(weights)
            model.compile(keras.optimizers.SGD(LEARNING_RATE),
                          SCE if loss == "sce" else loss, jit_compile=JIT)
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.DATA)
        dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(
            BATCH).repeat().with_options(options)
        recorder = StepLosses()
        # One epoch of STEPS steps: one distributed iterator, not STEPS.
        model.fit(dataset, epochs=1, steps_per_epoch=STEPS, verbose=0,
                  shuffle=False,
                  callbacks=[recorder])
        return {
            "loss": recorder.losses(),
            "init": np.asarray([float(np.sum(np.abs(w))) for w in weights]),
            **{f"w{i}": w for i, w in enumerate(model.get_weights())},
        }

    results = {}
    single = tf.distribute.get_strategy()  # the default strategy
    if mode == "mirrored":
        assert strategy.num_replicas_in_sync == 2
    else:
        task = strategy.cluster_resolver.task_id
        results["task"] = np.asarray(task)
        results["replicas"] = np.asarray(strategy.num_replicas_in_sync)
    for index, name in enumerate(names):
        weights = make(name)[0].get_weights()  # the same in every process
        if mode == "mirrored":
            runs = [("single", single, train), ("dist", strategy, train)]
        else:
            runs = [("dist", strategy, train_custom_loop)]
            if index % strategy.num_replicas_in_sync == task:
                # The reference, Keras' own fit on one device, shared out.
                runs.append(("single", single, train))
        for key, strat, train_fn in runs:
            start = time.process_time()
            for k, v in train_fn(name, strat, weights).items():
                results[f"{key}/{name}/{k}"] = v
            print(f"trained {name} ({key}) in "
                  f"{time.process_time() - start:.1f} s CPU", flush=True)
    np.savez(out, **results)
    print("DISTRIBUTED_OK", flush=True)


if __name__ == "__main__":
    _main()
