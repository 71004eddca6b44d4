"""digits core: data, architectures, training, preprocessing and inference.

Nothing here imports Qt, and nothing imports Keras/TensorFlow at module top
level: `import model.<anything>` stays cheap so the window can appear before
TensorFlow has loaded.
"""
