"""Reading picture files safely (Pillow's decompression-bomb limit holds)."""
from __future__ import annotations

import warnings
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from model.errors import DigitsError

MAX_PIXELS = 40_000_000  # far above any photo of a digit, far below what exhausts memory


def load_image(path: Path | str) -> Image.Image:
    """Open and decode ``path`` fully; raise DigitsError naming the file if it is not a usable image."""
    path = Path(path)
    if path.exists() and not path.is_dir() and not path.is_file():  # a FIFO would block, a device never end
        raise DigitsError(f"{path}: not a regular file, not an image.")
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image.load()
                return image.copy()
    except FileNotFoundError:
        raise DigitsError(f"{path}: file not found.") from None
    except IsADirectoryError:
        raise DigitsError(f"{path}: is a folder, not an image.") from None
    except PermissionError:
        raise DigitsError(f"{path}: permission denied.") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DigitsError(f"{path}: image too large (over {MAX_PIXELS:,} pixels).") from None
    except UnidentifiedImageError:
        raise DigitsError(f"{path}: not an image Pillow can read.") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise DigitsError(f"{path}: the image is damaged or truncated ({exc}).") from None
