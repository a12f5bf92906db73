"""Run the router: `python -m services.router` (settings: OURO_* and OURO_ROUTER_*)."""

from services.router.service import setup
from shared.service import main
from shared.settings import CommonSettings

if __name__ == "__main__":
    main("router", CommonSettings(), setup)
