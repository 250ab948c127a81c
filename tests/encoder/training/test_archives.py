import pytest
from pair_files import archive

from encoder.training.archives import archive_members, member_lines, member_text, open_archive


def test_members_are_read_in_place_and_a_missing_one_is_named(tmp_path):
    archive(tmp_path, "toy", {"a.txt": "\ufeffone\ntwo\n", "b/c.txt": "three", "d.xml": "<x/>"})
    with open_archive(tmp_path, "toy") as tar:
        assert member_lines(tar, "toy/a.txt") == ["one", "two"]  # a byte-order mark is dropped
        assert member_text(tar, "toy/b/c.txt") == "three"
        assert [name for name, _ in archive_members(tar, lambda name: name.endswith(".xml"))] == ["toy/d.xml"]
        with pytest.raises(FileNotFoundError, match="no member toy/e.txt"):
            member_text(tar, "toy/e.txt")
    with pytest.raises(FileNotFoundError, match="other.tar.xz: no such pair archive"):
        open_archive(tmp_path, "other")
