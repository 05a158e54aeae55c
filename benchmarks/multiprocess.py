"""Data-parallel pretraining over worker processes (JAX): 2 workers of 1 core against 1 process of 2 cores.

Both runs pretrain the same autoencoder for one epoch on the same images with the same global
batch (`tlkeras pretrain`); images/s is compilation included, and the two are compared as a ratio
measured in one run. Then, on paper: the time of one epoch over 1 million and 100 million images
for N workers, from the measured per-worker throughput and the size of the gradient all-reduce of
this model (ring all-reduce: each worker sends and receives 2 (N - 1) / N times the gradients per
step) at an assumed network bandwidth.

Usage: python benchmarks/multiprocess.py [--max-images N] [--batch-size B] [--bandwidth-gbit G]
"""

import argparse

from _machine import describe

from tlkeras.scaling.workers import WorkerOptions, launch_local_workers


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-images", type=int, default=6000)
    parser.add_argument("--batch-size", type=int, default=128, help="the global batch")
    parser.add_argument("--bandwidth-gbit", type=float, default=10.0, help="network bandwidth per worker, Gbit/s")
    args = parser.parse_args()
    print(f"machine: {describe()} (this harness; the workers run on JAX)")
    options = WorkerOptions(max_images=args.max_images, epochs=1, batch_size=args.batch_size)
    two = launch_local_workers(options, 2, cores_per_worker=1)
    one = launch_local_workers(options, 1)
    two_rate, one_rate = two[0]["images_per_second"], one[0]["images_per_second"]
    print(f"2 workers x 1 core: {two_rate:.0f} images/s; 1 process x 2 cores: {one_rate:.0f} images/s")
    print(
        f"ratio (2 workers / 1 process): {two_rate / one_rate:.2f}; same weights on both workers: "
        f"{two[0]['autoencoder_digest'] == two[1]['autoencoder_digest']}"
    )

    import keras

    from tlkeras.models import build_conv_autoencoder

    params = build_conv_autoencoder((28, 28, 1), filters=options.filters, latent_dim=options.latent_dim).count_params()
    gradient_bytes = 4 * params
    per_worker = two_rate / 2
    bandwidth = args.bandwidth_gbit * 1e9 / 8
    print(
        f"\nall-reduce: {params:,} float32 parameters = {gradient_bytes / 1e6:.2f} MB per step; "
        f"per-worker throughput {per_worker:.0f} images/s; {args.bandwidth_gbit:g} Gbit/s; Keras {keras.__version__}"
    )
    print("| images per epoch | workers | compute | all-reduce | epoch |")
    print("|---|---|---|---|---|")
    for images in (1_000_000, 100_000_000):
        for workers in (1, 8, 64):
            steps = images / args.batch_size
            compute = images / (workers * per_worker)
            network = 0.0 if workers == 1 else steps * 2 * (workers - 1) / workers * gradient_bytes / bandwidth
            print(
                f"| {images:,} | {workers} | {compute / 3600:.2f} h | {network / 3600:.2f} h | "
                f"{(compute + network) / 3600:.2f} h |"
            )


if __name__ == "__main__":
    main()
