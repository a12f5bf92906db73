"""Run the trainer: `python -m services.trainer` (settings: OURO_* and OURO_TRAINER_*)."""

from services.trainer.service import setup
from shared.service import main
from shared.settings import CommonSettings

if __name__ == "__main__":
    main("trainer", CommonSettings(), setup)
