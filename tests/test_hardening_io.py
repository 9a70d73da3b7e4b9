"""Issue 17, 1, 6, 7: table readers linear and bounded, unreadable files as input errors, YAML's NO."""

from __future__ import annotations

import time

import pandas as pd
import pytest

from spendprint.errors import InputFileError
from spendprint.io import tabular as T


def test_header_check_is_linear_in_the_number_of_columns(tmp_path):
    """pandas' header parser took 15 s for 40,000 columns (quadratic); the check is one pass."""
    times = {}
    for n in (20_000, 80_000):
        p = tmp_path / f"w{n}.csv"
        p.write_text(",".join(f"c{i}" for i in range(n)) + "\n")
        t = time.perf_counter()
        with pytest.raises(T.TableTooLargeError, match=f"{n:,} columns"):
            T.check_text_table(p, max_line_bytes=10 << 20)
        times[n] = time.perf_counter() - t
    assert times[80_000] < 2.0
    # through read_table: the 1 MiB line cap answers first, before any parser
    p = tmp_path / "huge.csv"
    p.write_text(",".join(f"c{i}" for i in range(400_000)) + "\n1\n")
    t = time.perf_counter()
    with pytest.raises(T.TableTooLargeError, match="line 1 is longer"):
        T.read_table(p)
    assert time.perf_counter() - t < 2.0


def test_long_data_line_is_refused(tmp_path):
    p = tmp_path / "long.csv"
    p.write_text("a,b\n1,2\n" + "x" * 300 + "\n")
    with pytest.raises(T.TableTooLargeError, match="line 3"):
        T.check_text_table(p, max_line_bytes=200)
    assert T.check_text_table(p, max_line_bytes=400) == ["a", "b"]


def test_header_names_and_duplicates_as_pandas(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text('a,"b,c",a,a.1,a\n1,2,3,4,5\n')
    df = T.read_table(p)
    want = pd.read_csv(p, dtype=str)
    assert list(df.columns) == list(want.columns)
    assert df.iloc[0].tolist() == ["1", "2", "3", "4", "5"]


def test_header_only_csv_is_an_empty_table_with_its_columns(tmp_path):
    p = tmp_path / "h.csv"
    p.write_text("category,amount\n")
    df = T.read_table(p)
    assert list(df.columns) == ["category", "amount"] and len(df) == 0


@pytest.mark.parametrize("name,content", [("empty.csv", b""), ("blank.csv", b"\n\n"),
                                          ("latin1.csv", "kategori,beløp\n".encode("latin-1")),
                                          ("notzip.xlsx", b"not a zip"),
                                          ("bad.parquet", b"PAR1 nope")])
def test_unreadable_tables_are_input_errors(tmp_path, name, content):
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(InputFileError, match=name.split(".")[0]):
        T.read_table(p)


def test_yaml_keeps_norway_and_other_1_1_booleans_as_strings(tmp_path):
    d = T.load_yaml("NO: no\nregions: [NO, SE, on, off, yes, Y, n]\nflag: true\nother: False\n")
    assert d == {"NO": "no", "regions": ["NO", "SE", "on", "off", "yes", "Y", "n"],
                 "flag": True, "other": False}
    p = tmp_path / "s.yaml"
    p.write_text("scenarios:\n  - {name: n, levers: [{lever: origin, region: NO}]}\n")
    assert T.read_yaml(p)["scenarios"][0]["levers"][0]["region"] == "NO"
    p.write_text("a: [unclosed\n")
    with pytest.raises(InputFileError, match="invalid YAML"):
        T.read_yaml(p)
    p.write_bytes(b"\xff\xfe\x00a")
    with pytest.raises(InputFileError, match="UTF-8"):
        T.read_yaml(p)
