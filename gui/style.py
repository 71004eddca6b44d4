"""Fonts and colours: large enough for a projector, taken from the palette so light and dark both read."""
from __future__ import annotations

from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication

BASE_POINT_SIZE = 12.0  # the window's smallest text; 12 pt reads across a classroom


def scaled_font(font: QFont, factor: float, bold: bool | None = None) -> QFont:
    scaled = QFont(font)
    size = font.pointSizeF() if font.pointSizeF() > 0 else BASE_POINT_SIZE
    scaled.setPointSizeF(size * factor)
    if bold is not None:
        scaled.setBold(bold)
    return scaled


def heading_font(font: QFont) -> QFont:
    return scaled_font(font, 1.3, bold=True)


def base_font(font: QFont) -> QFont:
    """``font`` at least BASE_POINT_SIZE."""
    if 0 < font.pointSizeF() < BASE_POINT_SIZE:
        font = QFont(font)
        font.setPointSizeF(BASE_POINT_SIZE)
    return font


def is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def plot_colours(palette: QPalette) -> dict[str, QColor]:
    """Curve colours that keep their contrast on the palette's background (Okabe-Ito hues)."""
    if is_dark(palette):
        return {"train": QColor("#56b4e9"), "val": QColor("#f0a830")}
    return {"train": QColor("#0064b0"), "val": QColor("#d55e00")}


def dark_palette() -> QPalette:
    """A dark Fusion palette, for checking (and screenshotting) the dark theme."""
    palette = QPalette()
    roles = QPalette.ColorRole
    for role, colour in (
        (roles.Window, "#202124"), (roles.WindowText, "#e8eaed"), (roles.Base, "#17181a"),
        (roles.AlternateBase, "#2a2b2e"), (roles.Text, "#e8eaed"), (roles.Button, "#2d2e31"),
        (roles.ButtonText, "#e8eaed"), (roles.Highlight, "#3d8bfd"), (roles.HighlightedText, "#ffffff"),
        (roles.ToolTipBase, "#2d2e31"), (roles.ToolTipText, "#e8eaed"), (roles.PlaceholderText, "#9aa0a6"),
        (roles.Mid, "#5f6368"), (roles.Dark, "#121314"), (roles.Light, "#3c4043"), (roles.Link, "#8ab4f8"),
    ):
        palette.setColor(role, QColor(colour))
    for role in (roles.WindowText, roles.Text, roles.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#80868b"))
    return palette


def use_dark_theme(app: QApplication) -> None:
    app.setStyle("Fusion")
    app.setPalette(dark_palette())
