"""Shared dependencies of the routers."""

from typing import Annotated

from fastapi import Depends, Request

from app.services import Services


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def get_services(request: Request) -> Services:
    """Async on purpose: a sync dependency would cost every request a threadpool hop."""
    return services_of(request)


ServicesDep = Annotated[Services, Depends(get_services)]
