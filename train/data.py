"""Training input: the validation split and the augmented tf.data pipeline."""

from __future__ import annotations

import math

import numpy as np

from digitlite.edge.util.quiet import import_tensorflow

tf = import_tensorflow()

# Augmentation bounds: small enough that a 6 stays a 6 and a 1 does not become a 7.
ROTATION_DEGREES = 10.0
SHIFT_PIXELS = 2.5
ZOOM = 0.10
SHEAR = 0.15


def split_validation(images: np.ndarray, labels: np.ndarray, val_size: int, seed: int):
    """Hold ``val_size`` random examples out of the training set; return (train, val) pairs."""
    if not 0 < val_size < len(images):
        raise ValueError(f"validation size {val_size} must be between 1 and {len(images) - 1}")
    order = np.random.default_rng(seed).permutation(len(images))
    val, train = order[:val_size], order[val_size:]
    return (images[train], labels[train]), (images[val], labels[val])


def _affine_transforms(batch: int, seed) -> tf.Tensor:
    """One random affine map per image (rotation, zoom, shear, shift) about the centre.

    Rows are the 8 projective parameters ImageProjectiveTransformV3 expects: they map
    an output pixel to the input pixel it samples.
    """
    seeds = tf.random.experimental.stateless_split(seed, 5)
    angle = tf.random.stateless_uniform([batch], seeds[0], -1.0, 1.0) * (ROTATION_DEGREES * math.pi / 180)
    scale = 1.0 + tf.random.stateless_uniform([batch], seeds[1], -ZOOM, ZOOM)
    shear = tf.random.stateless_uniform([batch], seeds[2], -SHEAR, SHEAR)
    shift = tf.random.stateless_uniform([batch, 2], seeds[3], -SHIFT_PIXELS, SHIFT_PIXELS)
    cos, sin = tf.cos(angle) / scale, tf.sin(angle) / scale
    a0, a1 = cos, -sin + shear * cos
    b0, b1 = sin, cos + shear * sin
    c = 13.5  # centre of a 28x28 image
    a2 = c - a0 * c - a1 * c + shift[:, 0]
    b2 = c - b0 * c - b1 * c + shift[:, 1]
    zeros = tf.zeros([batch])
    return tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)


def augment(images: tf.Tensor, seed) -> tf.Tensor:
    """Randomly rotate, zoom, shear and shift a batch of (N, 28, 28, 1) float images."""
    batch = tf.shape(images)[0]
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=_affine_transforms(batch, seed),
        output_shape=tf.shape(images)[1:3],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="CONSTANT",
    )


def training_dataset(images: np.ndarray, labels: np.ndarray, batch_size: int, seed: int,
                     augmentation: bool = True) -> tf.data.Dataset:
    """An endless shuffled, batched, (optionally) augmented stream of (pixels, label).

    Pixels stay on the 0-255 scale: the model rescales them itself.  Each batch's
    augmentation is seeded by (seed, batch number), so a run is reproducible.
    """
    ds = tf.data.Dataset.from_tensor_slices((images[..., None], labels))
    ds = ds.shuffle(len(images), seed=seed, reshuffle_each_iteration=True).repeat().batch(batch_size)

    def prepare(step, batch):
        x, y = batch
        x = tf.cast(x, tf.float32)
        if augmentation:
            x = augment(x, tf.stack([tf.cast(seed, tf.int64), step]))
        return x, y

    return ds.enumerate().map(prepare, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(2)


def eval_dataset(images: np.ndarray, labels: np.ndarray, batch_size: int = 1000) -> tf.data.Dataset:
    """Batched (pixels, label) without augmentation, for validation and test."""
    ds = tf.data.Dataset.from_tensor_slices((images[..., None].astype(np.float32), labels))
    return ds.batch(batch_size)
