"""Draw the app icon (a patch grid, three quarters masked) and write it as PNG, ICO, ICNS.

python packaging/make_icons.py      # writes resources/icon.{png,ico,icns} and
                                    # mae_desktop/resources/icon.png
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]


def draw(size: int = 512) -> Image.Image:
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle((0, 0, size - 1, size - 1), radius=size // 8, fill=(24, 26, 38, 255))
    n, pad = 4, size // 10
    cell = (size - 2 * pad) / n
    visible = {(0, 1), (1, 3), (2, 0), (3, 2)}  # one visible patch per row: 75% masked
    for r in range(n):
        for c in range(n):
            x0, y0 = pad + c * cell + 4, pad + r * cell + 4
            box = (x0, y0, x0 + cell - 8, y0 + cell - 8)
            if (r, c) in visible:
                t = (r * n + c) / (n * n)
                colour = (int(240 - 80 * t), int(150 + 60 * t), int(40 + 160 * t), 255)
            else:
                colour = (70, 74, 96, 255)
            d.rounded_rectangle(box, radius=size // 40, fill=colour)
    return img


def main() -> None:
    img = draw()
    (ROOT / "resources").mkdir(exist_ok=True)
    img.save(ROOT / "resources" / "icon.png")
    img.resize((256, 256), Image.Resampling.LANCZOS).save(
        ROOT / "mae_desktop" / "resources" / "icon.png"
    )
    img.save(ROOT / "resources" / "icon.ico", sizes=[(s, s) for s in (16, 32, 48, 64, 128, 256)])
    img.save(ROOT / "resources" / "icon.icns")


if __name__ == "__main__":
    main()
