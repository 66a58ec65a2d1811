"""Word spacing for recognisers that drop it.

RapidOCR's bundled PP-OCRv4 recogniser was trained mostly on Chinese, where words are not
separated, so it often reads "CASH BILL" as "CASHBILL". It does say where each character sits.
A space goes between two characters when the signs agree: their boxes stand apart, and the
pixels between their centres hold a blank column run (no ink) wide enough to be a word gap and
clearly wider than the line's usual gap between letters.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from mcp_servers.ocr.document import Point

# All as a share of the line height. Tuned on the SROIE development receipts (the 8,834
# character gaps of lines whose characters match the annotation): these misplace 250, of which
# 21 are spaces too many; the box gap alone misplaces about twice as many.
MIN_BLANK_RUN = 0.2
MIN_BOX_GAP = 0.15
MIN_EXCESS_OVER_LETTER_GAP = 0.1
MIN_DIGIT_BLANK_RUN = 0.45


def restore_spaces(
    gray: np.ndarray, line_box: Sequence[Point], chars: Sequence[str], char_boxes: Sequence[Sequence[Point]]
) -> str:
    """The line's text with a space at each word gap. `gray` is the page as 8-bit grey levels."""
    text = "".join(chars)
    if len(chars) < 2 or len(chars) != len(char_boxes) or any(char.isspace() for char in chars):
        # The recogniser placed spaces itself, or there is nothing to place.
        return text
    corners = np.array(line_box, dtype=np.float32)
    origin = corners[0]
    axis = corners[1] - corners[0]
    length = float(np.linalg.norm(axis))
    height = float(np.linalg.norm(corners[3] - corners[0]))
    # Vertical lines are rotated before recognition and their character boxes do not follow
    # the reading direction of the box; leave them as read.
    if height < 2 or length < 2 or height >= 1.5 * length:
        return text
    axis /= length
    spans = [_span(box, origin, axis) for box in char_boxes]
    ink = _ink_columns(gray, corners, int(length), int(height))
    blanks = [_longest_blank(ink, spans[i - 1][2], spans[i][2]) for i in range(1, len(chars))]
    letter_gap = float(np.median(blanks))
    out = [chars[0]]
    for index in range(1, len(chars)):
        blank = blanks[index - 1]
        # Digits are monospaced on receipts and a narrow "1" leaves a wide blank beside it;
        # between two digits only a much wider blank is a space ("1 12.45" is one number).
        needed = (
            MIN_DIGIT_BLANK_RUN if chars[index - 1].isdigit() and chars[index].isdigit() else MIN_BLANK_RUN
        )
        if (
            spans[index][0] - spans[index - 1][1] > MIN_BOX_GAP * height
            and blank > needed * height
            and blank - letter_gap > MIN_EXCESS_OVER_LETTER_GAP * height
            and not (_is_cjk(chars[index - 1]) and _is_cjk(chars[index]))
            and not _inside_number(chars, index)
        ):
            out.append(" ")
        out.append(chars[index])
    return "".join(out)


def _inside_number(chars: Sequence[str], index: int) -> bool:
    """Whether `index` falls inside a number such as 66.04: printers leave room around the point."""
    before, after = chars[index - 1], chars[index]
    if before.isdigit() and after in ".,":
        return True
    return before in ".," and after.isdigit() and index >= 2 and chars[index - 2].isdigit()


def _is_cjk(char: str) -> bool:
    # Chinese and Japanese are written without spaces between words.
    return "\u3000" <= char <= "\u9fff" or "\uff00" <= char <= "\uffef"


def _span(box: Sequence[Point], origin: np.ndarray, axis: np.ndarray) -> tuple[float, float, float]:
    along = [float(np.dot(np.asarray(point, dtype=np.float32) - origin, axis)) for point in box]
    return min(along), max(along), (min(along) + max(along)) / 2


def _ink_columns(gray: np.ndarray, corners: np.ndarray, width: int, height: int) -> np.ndarray:
    """For each column of the straightened line, whether it holds any ink."""
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    crop = cv2.warpPerspective(
        gray, cv2.getPerspectiveTransform(corners, target), (width, height), borderMode=cv2.BORDER_REPLICATE
    )
    _, dark = cv2.threshold(crop, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    ink = dark > 0
    if ink.mean() > 0.5:  # light text on a dark background
        ink = ~ink
    return np.asarray(ink.any(axis=0))


def _longest_blank(ink: np.ndarray, start: float, end: float) -> int:
    longest = run = 0
    for has_ink in ink[max(0, int(start)) : max(0, min(len(ink), int(end)))]:
        run = 0 if has_ink else run + 1
        longest = max(longest, run)
    return longest
