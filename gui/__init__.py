"""digits' window: Qt widgets that call ``model`` and never run long work on the GUI thread."""
