"""A small Vietnamese company site: linked pages, a robots.txt, a redirect and a broken link."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse
from starlette.routing import Route

from tests.mcp_servers.search.documents import html_page

PAGES = {
    "/": html_page(
        "Công ty Nước Sạch Miền Nam",
        "<p>Chào mừng quý khách đến với công ty chúng tôi, nhà cung cấp thiết bị lọc nước hàng đầu.</p>",
        links=(
            "/gioi-thieu",
            "/san-pham#top",
            "/private/bang-luong",
            "/old",
            "/broken",
            "http://other.example/x",
        ),
    ),
    "/gioi-thieu": html_page(
        "Giới thiệu",
        "<p>Công ty được thành lập năm 2005 tại Thành phố Hồ Chí Minh với hơn 200 nhân viên.</p>",
        links=("/lien-he", "/"),
    ),
    "/san-pham": html_page(
        "Sản phẩm",
        "<p>Danh mục sản phẩm gồm máy lọc nước gia đình và hệ thống lọc công nghiệp.</p>",
        links=("/san-pham/may-loc-nuoc",),
    ),
    "/san-pham/may-loc-nuoc": html_page(
        "Máy lọc nước RO",
        "<p>Máy lọc nước thẩm thấu ngược RO 9 cấp lọc, công suất 20 lít mỗi giờ, bảo hành 24 tháng.</p>",
    ),
    "/lien-he": html_page(
        "Liên hệ",
        "<p>Địa chỉ: 12 Nguyễn Huệ, Quận 1. Điện thoại hỗ trợ khách hàng: 1900 1234.</p>",
        links=("/lien-he/chi-nhanh",),
    ),
    "/lien-he/chi-nhanh": html_page("Chi nhánh", "<p>Chi nhánh Đà Nẵng và Hà Nội mở cửa từ thứ Hai.</p>"),
    "/private/bang-luong": html_page("Bảng lương", "<p>Bảng lương nhân viên là tài liệu mật.</p>"),
}

ROBOTS = "User-agent: *\nDisallow: /private/\n"


def company_site() -> Starlette:
    routes = [Route(path, lambda r, body=body: HTMLResponse(body)) for path, body in PAGES.items()]
    routes += [
        Route("/robots.txt", lambda r: PlainTextResponse(ROBOTS)),
        Route("/old", lambda r: RedirectResponse("/gioi-thieu", status_code=301)),
        Route("/broken", lambda r: PlainTextResponse("not here", status_code=404)),
    ]
    return Starlette(routes=routes)
