"""Your handwriting: the "That's a ..." correction buttons and the personal dataset browser.

The widgets only show and ask; saving, deleting, importing and fine-tuning are
done by ``gui.insight`` through ``model.personal`` and the training panel.
"""
from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from gui.images import grey_image
from gui.style import scaled_font

THUMB = 56


class CorrectionBar(QWidget):
    """"That's a" and ten digit buttons: one click saves the drawing with the right label."""

    corrected = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("correctionBar")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        label = QLabel("Wrong? That's a…")
        label.setToolTip("Save this drawing with the right digit to your personal samples "
                         "(View > My handwriting), to fine-tune the network on your handwriting.")
        layout.addWidget(label)
        row = QHBoxLayout()
        row.setSpacing(2)
        self.buttons = []
        for digit in range(10):
            button = QPushButton(str(digit))
            button.setObjectName(f"correctButton{digit}")
            button.setAccessibleName(f"That's a {digit}")
            button.setToolTip(f"Save the drawing as a {digit}")
            button.setFont(scaled_font(self.font(), 1.1, bold=True))
            button.setMinimumWidth(26)
            button.setMaximumWidth(44)
            button.clicked.connect(lambda _=False, d=digit: self.corrected.emit(d))
            row.addWidget(button)
            self.buttons.append(button)
        layout.addLayout(row)
        self.setEnabled(False)


def thumbnail(drawing) -> QPixmap:
    """The drawing as the network sees it, dark ink on light, THUMB pixels square."""
    from model.strokes import strokes_to_input

    x = strokes_to_input(drawing.strokes, drawing.width, drawing.height)
    if x is None:
        pixmap = QPixmap(THUMB, THUMB)
        pixmap.fill(Qt.GlobalColor.lightGray)
        return pixmap
    return QPixmap.fromImage(grey_image(x, invert=True)).scaled(
        THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)


class PersonalView(QWidget):
    """The personal samples as thumbnails, with delete, export, import and fine-tune."""

    delete_requested = Signal(list)  # sample ids
    export_requested = Signal()
    import_requested = Signal()
    finetune_requested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("personalView")
        self.summary = QLabel("no samples yet: draw a digit, then click “That's a …” under the prediction")
        self.summary.setObjectName("personalSummary")
        self.summary.setWordWrap(True)
        self.list = QListWidget()
        self.list.setObjectName("personalList")
        self.list.setAccessibleName("Personal samples")
        self.list.setViewMode(QListView.ViewMode.IconMode)
        self.list.setIconSize(QSize(THUMB, THUMB))
        self.list.setResizeMode(QListView.ResizeMode.Adjust)
        self.list.setMovement(QListView.Movement.Static)
        self.list.setSpacing(4)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)

        self.delete_button = self._button("Delete selected", "deleteSamplesButton",
                                          lambda: self.delete_requested.emit(self.selected_ids()))
        self.export_button = self._button("Export…", "exportSamplesButton", self.export_requested.emit)
        self.import_button = self._button("Import…", "importSamplesButton", self.import_requested.emit)
        self.finetune_button = self._button("Fine-tune on my handwriting", "finetuneButton",
                                            self.finetune_requested.emit)
        self.finetune_button.setFont(scaled_font(self.font(), 1.1, bold=True))
        self.report = QLabel("")
        self.report.setObjectName("finetuneReport")
        self.report.setWordWrap(True)
        self.report.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        buttons = QHBoxLayout()
        for button in (self.delete_button, self.export_button, self.import_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.finetune_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.report)
        self.list.itemSelectionChanged.connect(self._update_buttons)
        self._update_buttons()

    def _button(self, text: str, name: str, slot) -> QPushButton:
        button = QPushButton(text)
        button.setObjectName(name)
        button.clicked.connect(slot)
        return button

    def selected_ids(self) -> list[str]:
        return [item.data(Qt.ItemDataRole.UserRole) for item in self.list.selectedItems()]

    def set_samples(self, samples) -> None:
        from model.history import local_date
        from model.personal import sample_id

        self.list.clear()
        counts = [0] * 10
        for drawing in samples:
            item = QListWidgetItem(QIcon(thumbnail(drawing)), str(drawing.label))
            item.setData(Qt.ItemDataRole.UserRole, sample_id(drawing))
            added = drawing.extra.get("added")  # stored in UTC; shown in local time, as the runs' dates are
            item.setToolTip(f"a {drawing.label}" + (f", added {local_date(added)}" if added else ""))
            self.list.addItem(item)
            if drawing.label is not None:
                counts[drawing.label] += 1
        if samples:
            per_digit = ", ".join(f"{d}: {n}" for d, n in enumerate(counts) if n)
            self.summary.setText(f"{len(samples)} sample(s) of your handwriting ({per_digit})")
        else:
            self.summary.setText("no samples yet: draw a digit, then click “That's a …” under the prediction")
        self._update_buttons()

    def set_busy(self, busy: bool) -> None:
        self._busy = busy
        self._update_buttons()

    def _update_buttons(self) -> None:
        busy = getattr(self, "_busy", False)
        self.delete_button.setEnabled(bool(self.list.selectedItems()))
        self.export_button.setEnabled(self.list.count() > 0)
        self.finetune_button.setEnabled(self.list.count() > 0 and not busy)
