import json

import pytest

from workbench import manifest
from workbench.errors import WorkbenchError
from workbench.manifest import Entry


def test_written_entries_read_back_with_paths_from_the_manifest_folder(tmp_path):
    entries = [Entry(str(tmp_path / "a.wav"), "안녕하세요", 1.23456), Entry(str(tmp_path / "b.wav"), "", 2.0)]
    path = tmp_path / "set.json"
    manifest.write(path, entries)
    first = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
    assert first == {"audio_filepath": str(tmp_path / "a.wav"), "duration": 1.235, "text": "안녕하세요"}
    assert "안녕하세요" in path.read_text(encoding="utf-8")   # UTF-8, not \\u escapes
    assert manifest.read(path) == [entries[0]._replace(duration=1.235), entries[1]]
    (tmp_path / "sub").mkdir()
    relative = tmp_path / "sub" / "rel.jsonl"
    relative.write_text('\n{"audio_filepath": "x/c.wav", "text": 7}\n\n', encoding="utf-8")
    assert manifest.read(relative) == [Entry(str(tmp_path / "sub" / "x" / "c.wav"), "7", None)]


@pytest.mark.parametrize("line", ['{"audio": "a.wav", "text": "x"}', '{"audio_filepath": "a.wav"}', "not json",
                                  '["a.wav", "x"]', '"a.wav"', '{"audio_filepath": 3, "text": "x"}',
                                  '{"audio_filepath": "a.wav", "text": "x", "duration": "long"}',
                                  '{"audio_filepath": "a.wav", "text": "x", "duration": null}'])
def test_a_bad_line_is_one_error_naming_file_and_line(tmp_path, line):
    path = tmp_path / "bad.json"
    path.write_text('{"audio_filepath": "a.wav", "text": "가", "duration": 1}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(WorkbenchError, match=r"bad\.json:2: expected a JSON object") as caught:
        manifest.read(path)
    assert "\n" not in str(caught.value)


def test_text_that_is_not_utf8_is_one_error(tmp_path):
    path = tmp_path / "latin.json"
    path.write_bytes(b'{"audio_filepath": "a.wav", "text": "\xe9t\xe9"}\n')
    with pytest.raises(WorkbenchError, match="latin.json is not UTF-8 text"):
        manifest.read(path)
    with pytest.raises(WorkbenchError, match="not UTF-8"):
        manifest.utf8_text(path)
