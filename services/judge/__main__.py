"""Run the judge: `python -m services.judge` (OURO_JUDGE_ROLE=filter|assembler to scale them apart)."""

from services.judge.service import setup
from shared.service import main
from shared.settings import CommonSettings

if __name__ == "__main__":
    main("judge", CommonSettings(), setup)
