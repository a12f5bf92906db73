"""Run the harvester: `python -m services.harvester` (settings: OURO_* and OURO_HARVESTER_*)."""

from services.harvester.service import setup
from shared.service import main
from shared.settings import CommonSettings

if __name__ == "__main__":
    main("harvester", CommonSettings(), setup)
