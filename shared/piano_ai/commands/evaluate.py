"""`piano-ai evaluate`: score the model (or another transcriber's MIDI) on audio + reference MIDI pairs."""

import argparse

from piano_ai.runtimes import RUNTIMES

HELP = "score transcriptions against reference MIDI with mir_eval (onset, offset, velocity, frame F1)"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("evaluate", help=HELP, description=HELP)
    parser.add_argument("folder", help="folder of <stem>.<audio> + <stem>.mid pairs (e.g. a MAESTRO year)")
    parser.add_argument("--model", help="model directory (default: the shipped model)")
    parser.add_argument(
        "--runtime", choices=("auto", *RUNTIMES), help="inference runtime (default: PIANO_AI_RUNTIME)"
    )
    parser.add_argument(
        "--predictions", help="score MIDI files in this folder (<stem>.mid) instead of our model"
    )
    parser.add_argument("--no-pedal", action="store_true", help="do not extend reference notes by the pedal")
    parser.add_argument(
        "--no-prediction-pedal",
        action="store_true",
        help="do not extend predicted notes by their own sustain pedal (CC64 or the pedal head), if any",
    )
    parser.add_argument(
        "--pedal-metrics",
        action="store_true",
        help="where the reference writes CC64, also score note ends at key release (no pedal extension on "
        "either side) and, where the prediction writes CC64 too, sustain-pedal frame F1",
    )
    parser.add_argument("--limit", type=int, default=0, help="score only the first N files")
    parser.add_argument("--json", dest="json_out", help="write the full report (per file too) here")
    parser.add_argument("--from-dataset", help="first write the validation clips of this dataset into FOLDER")
    parser.add_argument("--onset-threshold", type=float, default=None)
    parser.add_argument("--frame-threshold", type=float, default=None)
    parser.add_argument(
        "--ends", choices=("network", "rule"), default=None, help="how notes end (default: NoteParams')"
    )


def run(args: argparse.Namespace) -> int:
    import logging
    from dataclasses import replace
    from pathlib import Path

    from piano_ai.evaluation.evaluate import evaluate, folder_estimator, markdown_table, model_estimator
    from piano_ai.types import NoteParams

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    folder = Path(args.folder)
    if args.from_dataset:
        from piano_ai.evaluation.evalset import write_eval_set

        write_eval_set(args.from_dataset, folder, args.limit)
    if args.predictions:
        predictions = Path(args.predictions)
        estimate, name = folder_estimator(predictions, pedal=not args.no_prediction_pedal), predictions.name
    else:
        from piano_ai.inference import load_transcriber

        params = NoteParams()
        if args.onset_threshold is not None:
            params = replace(params, onset_threshold=args.onset_threshold)
        if args.frame_threshold is not None:
            params = replace(params, frame_threshold=args.frame_threshold)
        if args.ends is not None:
            params = replace(params, ends=args.ends)
        from piano_ai.settings import get_settings

        model = load_transcriber(args.model, runtime=args.runtime or get_settings().runtime)
        estimate = model_estimator(model, params.validate(), pedal=not args.no_prediction_pedal)
        name = f"piano-ai ({model.model_dir.name})"
    report = evaluate(
        folder, estimate, pedal=not args.no_pedal, limit=args.limit, pedal_metrics=args.pedal_metrics
    )
    print(markdown_table({name: report}))
    if args.json_out:
        Path(args.json_out).write_text(report.to_json())
    return 0
