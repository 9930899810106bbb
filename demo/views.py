"""The demo shop's one page (see demo/shop.py): products, a "log in as" switch, a cart and a checkout."""

from decimal import Decimal

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from demo.shop import (
    PRODUCTS,
    cart_lines,
    checkout,
    demo_api_key,
    demo_customers,
    demo_shop_ready,
    shopper_token_sign,
)

SESSION_CART = "demo_shop_cart"
SESSION_CUSTOMER = "demo_shop_customer"


def _origin(request) -> str:
    return f"{request.scheme}://{request.get_host()}"


@require_http_methods(["GET", "POST"])
def shop(request):
    demo = demo_shop_ready(origin=_origin(request))
    customers = {c.external_id: c for c in demo_customers(shop=demo)}
    if request.method == "POST":
        action = request.POST.get("action")
        cart = dict(request.session.get(SESSION_CART, {}))
        if action == "login":
            chosen = request.POST.get("customer") or ""
            request.session[SESSION_CUSTOMER] = chosen if chosen in customers else ""
        elif action == "add" and request.POST.get("sku") in PRODUCTS:
            sku = request.POST["sku"]
            cart[sku] = min(cart.get(sku, 0) + 1, 20)
        elif action == "remove":
            cart.pop(request.POST.get("sku"), None)
        elif action == "checkout":
            result = checkout(
                api_base=request.build_absolute_uri("/api/v1/"),
                api_key=demo_api_key(shop=demo),
                cart=cart,
                customer_id=request.session.get(SESSION_CUSTOMER) or None,
                coupon=(request.POST.get("coupon") or "").strip(),
            )
            if result.ok:
                cart = {}
                text = f"{result.message} Order {result.order_id}"
                if result.discount:
                    text += f", coupon discount EUR {result.discount:.2f}"
                if result.points is not None:
                    text += f": {result.points} points ({result.points_status})."
                messages.success(request, text)
            else:
                messages.error(request, result.message)
        request.session[SESSION_CART] = cart
        return redirect(reverse("demo:shop"))

    customer = customers.get(request.session.get(SESSION_CUSTOMER) or "")
    lines = cart_lines(request.session.get(SESSION_CART, {}))
    return render(
        request,
        "demo/shop.html",
        {
            "shop": demo,
            "products": PRODUCTS.values(),
            "customers": customers.values(),
            "customer": customer,
            "token": shopper_token_sign(shop=demo, customer=customer) if customer else "",
            "lines": lines,
            "total": sum((line["total"] for line in lines), Decimal(0)),
        },
    )
