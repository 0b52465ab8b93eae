"""``python -m sagan_tf.cli.build_pretrained``: notes from a file, --replace, --into, and its
mistakes as one ``error: ...`` line with exit status 2."""

from sagan_tf.serving.model_card import CARD_FILE
from tests.helpers.cli import run_main
from tests.helpers.exports import make_run


def test_the_command_appends_notes_to_the_card_and_replaces_only_when_asked(tmp_path, capsys):
    from sagan_tf.cli.build_pretrained import main as build_main

    logdir = make_run(tmp_path / "run").logdir
    into = ["--into", str(tmp_path)]
    notes = tmp_path / "notes.md"
    notes.write_text("Features: a 1-epoch classifier, test accuracy 0.767.\n")
    assert run_main(build_main, ["--logdir", str(logdir), "--name", "tiny", "--notes", str(notes), *into]) == 0
    card = (tmp_path / "tiny" / CARD_FILE).read_text()
    assert card.endswith("\n\n## How these numbers were made\n\nFeatures: a 1-epoch classifier, test accuracy 0.767.\n")
    capsys.readouterr()
    assert run_main(build_main, ["--logdir", str(logdir), "--name", "tiny", *into]) == 2  # exists: --replace needed
    assert capsys.readouterr().err.strip().startswith(f"error: {tmp_path / 'tiny'} exists; pass --replace")
    assert run_main(build_main, ["--logdir", str(logdir), "--name", "tiny", "--replace", *into]) == 0
    assert "How these numbers were made" not in (tmp_path / "tiny" / CARD_FILE).read_text()
    assert run_main(build_main, ["--logdir", str(logdir), "--name", "x", "--notes", str(tmp_path / "none.md"), *into]) == 2
    assert "error: cannot read --notes" in capsys.readouterr().err
