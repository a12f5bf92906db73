"""Run the evaluator: `python -m services.evaluator` (settings: OURO_* and OURO_EVALUATOR_*)."""

from services.evaluator.service import setup
from shared.service import main
from shared.settings import CommonSettings

if __name__ == "__main__":
    main("evaluator", CommonSettings(), setup)
