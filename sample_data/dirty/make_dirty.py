"""Write the dirty forms of real public data in sample_data/dirty/ (run by hand; not by tests or CI).

Usage: python sample_data/dirty/make_dirty.py PATH/TO/vega_datasets-0.9.0-py3-none-any.whl
(`pip download --no-deps vega_datasets==0.9.0` fetches the wheel). Every value comes from the wheel's
`vega_datasets/_data/` files; only the way it is written changes, as spreadsheets and old archives write it:

- auto_mpg.csv: cars.json (UCI Auto MPG) as CSV, a missing Horsepower written `?` as in the UCI original,
  Year as the ISO date the file carries (`1970-01-01`).
- auto_mpg_formatted.csv: the same rows, `;`-separated as a European export: Weight `3,504 lbs`
  (thousands separator + unit), Acceleration with a decimal comma (`12,5`), Year as `01.01.1970`,
  and a missing Miles_per_Gallon written `-`.
- iris.csv: iris.json as CSV (petal width alone predicts the species).
- seattle_weather.csv: seattle-weather.csv unchanged (dates written `2012/01/01`).
- stocks.csv: stocks.csv unchanged (monthly prices of 5 symbols, dates written `Jan 1 2000`).
"""

from __future__ import annotations

import csv
import io
import json
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _member(wheel: zipfile.ZipFile, name: str) -> bytes:
    return wheel.read(f"vega_datasets/_data/{name}")


def _number(value: float | int | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def main(wheel_path: str) -> None:
    with zipfile.ZipFile(wheel_path) as wheel:
        cars = json.loads(_member(wheel, "cars.json"))
        iris = json.loads(_member(wheel, "iris.json"))
        (HERE / "seattle_weather.csv").write_bytes(_member(wheel, "seattle-weather.csv"))
        (HERE / "stocks.csv").write_bytes(_member(wheel, "stocks.csv"))
    fields = list(cars[0])
    with open(HERE / "auto_mpg.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(fields)
        for car in cars:
            row = {k: _number(v) if isinstance(v, int | float) or v is None else v for k, v in car.items()}
            row["Horsepower"] = row["Horsepower"] or "?"
            writer.writerow([row[k] for k in fields])
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(fields)
    for car in cars:
        row = {k: _number(v) if isinstance(v, int | float) or v is None else v for k, v in car.items()}
        row["Miles_per_Gallon"] = row["Miles_per_Gallon"] or "-"
        row["Weight_in_lbs"] = f"{int(car['Weight_in_lbs']):,} lbs"
        row["Acceleration"] = row["Acceleration"].replace(".", ",")
        year, month, day = car["Year"].split("-")
        row["Year"] = f"{day}.{month}.{year}"
        writer.writerow([row[k] for k in fields])
    (HERE / "auto_mpg_formatted.csv").write_text(out.getvalue(), encoding="utf-8")
    with open(HERE / "iris.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(list(iris[0]))
        for flower in iris:
            writer.writerow([_number(v) if isinstance(v, int | float) else v for v in flower.values()])


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(sys.argv[1])
