"""The `tensorflowish` command (`cli`: train, predict, info, bench) and the benchmarks it runs
(`bench`, and the CNN, sequence and GPU workloads beside it). The top of the layout: these use
the whole public API and nothing below imports them."""
