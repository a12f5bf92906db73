"""Run the promoter: `python -m services.promoter` (settings: OURO_* and OURO_PROMOTER_*)."""

from services.promoter.service import setup
from shared.service import main
from shared.settings import CommonSettings

if __name__ == "__main__":
    main("promoter", CommonSettings(), setup)
