"""The DuckDB half of benchmarks/bigdata.py: extra orders and events derived from a demo store's activity.

Input tables (loaded by bigdata.py from the SQLite store; times are epoch seconds):
``idents(id, customer_id, kind)``, ``customers(id, first_s)`` (live ones), ``orders(id, identity_id,
channel, store, amount_fen, paid_s)``, ``first_items(order_pk, sku, category)``, ``contacts(identity_id,
staff, t)`` (``contact_added`` events) and ``stays(identity_id, chat_id, t)`` (``group_joined`` events).

Output: ``new_orders`` (repeat purchases of real orders) and ``gen`` (one row per extra event: ``t,
type, channel, identity_id, props`` plus tie-breakers; the caller drops rows past the history's end). Every random draw is a hash of (seed, the row's
key, a salt), so the same store and seed give the same rows on any machine.

How the behaviour is modelled (rates are per customer, after OneID):

- **purchase journeys**: before each mini-program order the customer opens the mini program, views
  the order's first product (a quarter reorder from their order list without it) and adds it to the
  cart (some redeem a coupon as they pay); Douyin orders follow a live stream or a product view,
  store orders a store visit; members earn points on most mini-program and store orders; 15% of
  orders of WeCom customers get an after-sale message the next day;
- **browsing sessions** that end without an order (mini program: pages, products, 30% add to cart,
  coupons, content), more of them for customers who buy more; their number is set so the store ends
  with the requested total of events;
- **WeCom chats**: a conversation on the day of ``contact_added``, then chats over the customer's
  active life, most answered by their staff member; **groups**: members post messages and 25% take
  a 7-day check-in (打卡) with day-by-day drop-off; **official account**: a third of unionid holders
  follow it and read, click and share articles.

Times: a customer's activity spans from first seen to 120 days after their last order (at least 14
days), denser early on; each browsing or chat moment falls on an Asia/Shanghai hour drawn from a
day curve with lunch and evening peaks, and 15% of weekday moments move to the weekend. Journeys
keep the real order's time; no event precedes the customer's first-seen time.
"""

from __future__ import annotations

import duckdb

from siyu.demo import catalog

DAY = 86_400
SHANGHAI = 8 * 3600
# relative use of the mini program by local hour, 0 h … 23 h: lunch and evening peaks
HOURS = (1.2, 0.6, 0.3, 0.2, 0.2, 0.3, 0.8, 2.0, 3.5, 4.0, 4.5, 5.5, 7.0, 6.0, 4.5, 4.5, 5.0, 5.5, 6.0, 7.0, 8.0,
         8.5, 6.5, 3.0)
PAGES = ("home", "menu", "menu", "activity", "member", "points_mall", "order_list")
SCENES = ("1001", "1011", "1047", "1089")
COUPONS = ("CP-NEW10", "CP-REBUY5", "CP-BDAY20", "CP-WINBACK8")
# browsing session: mean events = 1 opened + pages + products + P(cart | products) + coupon + content
SESSION_EVENTS = 1 + 1.0 + 1.0 + (2 / 3) * 0.3 + 0.08 + 0.25


def _list(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(f"'{v}'" for v in values) + "]"


def _hour_case() -> str:
    total, cum, parts = sum(HOURS), 0.0, []
    for h, w in enumerate(HOURS[:-1]):
        cum += w
        parts.append(f"WHEN x < {cum / total:.6f} THEN {h}")
    return f"CASE {' '.join(parts)} ELSE 23 END"


def macros(con: duckdb.DuckDBPyConnection, seed: int, end: int) -> None:
    """Define the random draws and the time placement as macros."""
    sku = [(s, c) for s, _n, c, _p in catalog.DRINKS_FEN]
    content = [(c, topic) for c, _title, topic in catalog.CONTENT]
    con.execute(f"""
        CREATE OR REPLACE MACRO u(a, b, c) AS (hash({seed}, a, b, c) % 1000003) / 1000003.0;
        CREATE OR REPLACE MACRO exp_n(x, mean, cap) AS least(CAST(floor(-ln(1 - x) * mean) AS BIGINT), cap);
        CREATE OR REPLACE MACRO hour_of(x) AS {_hour_case()};
        CREATE OR REPLACE MACRO weekend(d, x) AS
            CASE WHEN (d + 3) % 7 < 5 AND x < 0.15 THEN d + 5 - (d + 3) % 7 ELSE d END;
        CREATE OR REPLACE MACRO place(lo, span, x1, x2, x3, x4) AS least(greatest(
            weekend((lo + {SHANGHAI}) // {DAY} + CAST(floor(pow(x1, 1.3) * span / {DAY}) AS BIGINT), x4) * {DAY}
            + hour_of(x2) * 3600 + CAST(floor(x3 * 3600) AS BIGINT) - {SHANGHAI}, lo), {end - 60});
        CREATE OR REPLACE MACRO history_end() AS {end};
        CREATE OR REPLACE MACRO pick(xs, x) AS xs[1 + CAST(floor(x * len(xs)) AS BIGINT)];
        CREATE OR REPLACE MACRO sku_at(x) AS pick({_list(tuple(s for s, _c in sku))}, x);
        CREATE OR REPLACE MACRO category_at(x) AS pick({_list(tuple(c for _s, c in sku))}, x);
        CREATE OR REPLACE MACRO content_at(x) AS pick({_list(tuple(c for c, _t in content))}, x);
        CREATE OR REPLACE MACRO topic_at(x) AS pick({_list(tuple(t for _c, t in content))}, x);
    """)


def repeat_orders(con: duckdb.DuckDBPyConnection, needed: int, end: int) -> int:
    """Create ``new_orders``: ``needed`` repeat purchases of real paid orders; return how many."""
    con.execute(f"""
        CREATE OR REPLACE TABLE new_orders AS
        WITH candidates AS (
            SELECT id AS template, identity_id, channel, store, amount_fen,
                   paid_s + {DAY} * (3 + exp_n(u(id, 71, 0), 35, 400)) + CAST(floor(u(id, 72, 0) * 14400) AS BIGINT)
                   - 7200 AS t, hash(id, 73) AS rank_key
            FROM orders WHERE paid_s IS NOT NULL),
        chosen AS (SELECT * FROM candidates WHERE t < {end - 3600} ORDER BY rank_key LIMIT {max(needed, 0)})
        SELECT row_number() OVER (ORDER BY t, template) - 1 AS n, template, identity_id, channel, store, amount_fen, t,
               CASE WHEN u(template, 74, 0) < 0.035 AND t + {DAY} * (1 + CAST(floor(u(template, 75, 0) * 3) AS BIGINT))
                    < {end - 60} THEN t + {DAY} * (1 + CAST(floor(u(template, 75, 0) * 3) AS BIGINT)) END AS refund_t
        FROM chosen""")
    return int(con.execute("SELECT count(*) FROM new_orders").fetchone()[0])


def anchors(con: duckdb.DuckDBPyConnection, order_top: int, end: int) -> None:
    """Create ``buys`` (every paid order, old and new, with its customer) and ``cust`` (per customer)."""
    mini = f"openid:{catalog.MINI_APPID}"
    con.execute(f"""
        CREATE OR REPLACE TABLE buys AS
        SELECT o.order_pk, i.customer_id, o.identity_id, o.channel, o.store, o.amount_fen, o.paid_s,
               f.sku, f.category
        FROM (SELECT id AS order_pk, id AS item_of, identity_id, channel, store, amount_fen, paid_s FROM orders
              WHERE paid_s IS NOT NULL
              UNION ALL SELECT {order_top} + 1 + n, template, identity_id, channel, store, amount_fen, t FROM new_orders) o
        JOIN idents i ON i.id = o.identity_id LEFT JOIN first_items f ON f.order_pk = o.item_of;
        CREATE OR REPLACE TABLE cust AS
        WITH per AS (
            SELECT c.id AS customer_id, c.first_s,
                   min(i.id) FILTER (WHERE i.kind = '{mini}') AS mini_id,
                   min(i.id) FILTER (WHERE i.kind = 'external_userid') AS ext_id,
                   min(i.id) FILTER (WHERE i.kind = 'douyin_openid') AS douyin_id,
                   min(i.id) FILTER (WHERE i.kind = 'unionid') AS union_id,
                   min(i.id) FILTER (WHERE i.kind = 'member_no') AS member_id
            FROM customers c JOIN idents i ON i.customer_id = c.id GROUP BY c.id, c.first_s),
        bought AS (SELECT customer_id, count(*) AS n_orders, max(paid_s) AS last_paid FROM buys GROUP BY 1),
        staff AS (SELECT i.customer_id, first(k.staff ORDER BY k.t, k.staff) AS staff FROM contacts k JOIN idents i
                  ON i.id = k.identity_id WHERE k.staff IS NOT NULL GROUP BY 1)
        SELECT p.*, coalesce(b.n_orders, 0) AS n_orders, s.staff,
               least({end - 60}, greatest(coalesce(b.last_paid, p.first_s) + 120 * {DAY}, p.first_s + 14 * {DAY}))
               - p.first_s AS span
        FROM per p LEFT JOIN bought b USING (customer_id) LEFT JOIN staff s USING (customer_id);
        CREATE OR REPLACE TABLE gen (t BIGINT, type VARCHAR, channel VARCHAR, identity_id BIGINT, props VARCHAR,
                                     k1 BIGINT, k2 BIGINT);
    """)


def _insert(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    con.execute(f"INSERT INTO gen {sql}")


def journeys(con: duckdb.DuckDBPyConnection) -> None:
    """Events around every paid order: the path to it, store visits, points and after-sale care."""
    o = "b.paid_s - 240 - CAST(floor(u(b.order_pk, 1, 0) * 1500) AS BIGINT)"  # mini program opened
    mini = f"FROM buys b JOIN cust c USING (customer_id) WHERE b.channel = 'mini_program' AND c.mini_id IS NOT NULL " \
           f"AND {o} >= c.first_s"
    _insert(con, f"SELECT {o}, 'mini_program_opened', 'mini_program', c.mini_id, "
                 f"to_json(struct_pack(scene := pick({_list(SCENES)}, u(b.order_pk, 2, 0)))), b.order_pk, 1 {mini}")
    _insert(con, f"SELECT {o} + 30 + CAST(floor(u(b.order_pk, 3, 0) * 60) AS BIGINT), 'product_viewed', 'mini_program', "
                 f"c.mini_id, to_json(struct_pack(sku := b.sku, category := b.category)), b.order_pk, 2 {mini} "
                 f"AND u(b.order_pk, 13, 0) < 0.75")  # the others reorder from their order list
    _insert(con, f"SELECT {o} + 120 + CAST(floor(u(b.order_pk, 4, 0) * 90) AS BIGINT), 'cart_added', 'mini_program', "
                 f"c.mini_id, to_json(struct_pack(sku := b.sku, quantity := 1)), b.order_pk, 3 {mini}")
    _insert(con, f"SELECT b.paid_s, 'coupon_redeemed', 'mini_program', c.mini_id, "
                 f"to_json(struct_pack(coupon_id := pick({_list(COUPONS)}, u(b.order_pk, 6, 0)))), b.order_pk, 4 "
                 f"{mini} AND u(b.order_pk, 5, 0) < 0.12")
    live = "b.paid_s - 600 - CAST(floor(u(b.order_pk, 8, 0) * 3000) AS BIGINT)"
    douyin = "FROM buys b JOIN cust c USING (customer_id) WHERE b.channel = 'douyin' AND c.douyin_id IS NOT NULL"
    _insert(con, f"SELECT {live}, 'live_watched', 'douyin', c.douyin_id, "
                 f"to_json(struct_pack(room_id := 'live-' || CAST(({live} + {SHANGHAI}) // {DAY} AS VARCHAR))), "
                 f"b.order_pk, 5 {douyin} AND u(b.order_pk, 7, 0) < 0.4 AND {live} >= c.first_s")
    view = "b.paid_s - 60 - CAST(floor(u(b.order_pk, 9, 0) * 240) AS BIGINT)"
    _insert(con, f"SELECT {view}, 'product_viewed', 'douyin', c.douyin_id, "
                 f"to_json(struct_pack(sku := b.sku, category := b.category)), b.order_pk, 6 {douyin} "
                 f"AND {view} >= c.first_s")
    visit = "b.paid_s - 60 - CAST(floor(u(b.order_pk, 10, 0) * 1200) AS BIGINT)"
    _insert(con, f"SELECT {visit}, 'store_visited', 'store', b.identity_id, to_json(struct_pack(store := b.store)), "
                 f"b.order_pk, 7 FROM buys b JOIN cust c USING (customer_id) WHERE b.channel = 'store' "
                 f"AND {visit} >= c.first_s")
    _insert(con, "SELECT b.paid_s + 5, 'points_earned', 'mini_program', c.member_id, "
                 "to_json(struct_pack(points := b.amount_fen // 100, reason := 'order')), b.order_pk, 8 "
                 "FROM buys b JOIN cust c USING (customer_id) WHERE c.member_id IS NOT NULL "
                 "AND b.channel IN ('mini_program', 'store') AND u(b.order_pk, 14, 0) < 0.6 AND b.paid_s >= c.first_s")
    care = f"((b.paid_s + {SHANGHAI}) // {DAY} + 1) * {DAY} + 36000 + CAST(floor(u(b.order_pk, 12, 0) * 36000) AS BIGINT) " \
           f"- {SHANGHAI}"
    _insert(con, f"SELECT {care}, 'message_sent', 'wecom', c.ext_id, to_json(struct_pack(staff_userid := c.staff, "
                 f"msg_type := 'text', topic := 'after_sale')), b.order_pk, 9 FROM buys b JOIN cust c USING (customer_id) "
                 f"WHERE c.ext_id IS NOT NULL AND c.staff IS NOT NULL AND u(b.order_pk, 11, 0) < 0.15")


def wecom(con: duckdb.DuckDBPyConnection) -> None:
    """WeCom conversations (on the day of contact and over the customer's life) and group activity."""
    first = "k.t + 60 + CAST(floor(u(k.identity_id, 20, k.t) * 540) AS BIGINT)"
    contact = "FROM contacts k JOIN idents i ON i.id = k.identity_id JOIN cust c ON c.customer_id = i.customer_id " \
              "WHERE k.staff IS NOT NULL AND u(k.identity_id, 21, k.t) < 0.6"
    _insert(con, f"SELECT {first}, 'message_received', 'wecom', k.identity_id, "
                 f"to_json(struct_pack(staff_userid := k.staff, msg_type := 'text')), k.identity_id, 20 {contact}")
    _insert(con, f"SELECT {first} + 60 + CAST(floor(u(k.identity_id, 22, k.t) * 1740) AS BIGINT), 'message_sent', "
                 f"'wecom', k.identity_id, to_json(struct_pack(staff_userid := k.staff, msg_type := 'text')), "
                 f"k.identity_id, 21 {contact}")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE chats AS
        SELECT c.customer_id, c.ext_id, c.staff, n,
               place(c.first_s, c.span, u(c.customer_id, 30, n), u(c.customer_id, 31, n), u(c.customer_id, 32, n),
                     u(c.customer_id, 33, n)) AS t
        FROM (SELECT *, unnest(range(exp_n(u(customer_id, 34, 0), 0.8 + 0.4 * n_orders, 60))) AS n FROM cust
              WHERE ext_id IS NOT NULL AND staff IS NOT NULL) c""")
    _insert(con, "SELECT t, 'message_received', 'wecom', ext_id, to_json(struct_pack(staff_userid := staff, "
                 "msg_type := pick(['text', 'text', 'text', 'image', 'voice'], u(customer_id, 35, n)))), customer_id, "
                 "100 + n FROM chats")
    _insert(con, "SELECT t + 60 + CAST(floor(u(customer_id, 36, n) * 3540) AS BIGINT), 'message_sent', 'wecom', ext_id, "
                 "to_json(struct_pack(staff_userid := staff, msg_type := 'text')), customer_id, 200 + n FROM chats "
                 "WHERE u(customer_id, 37, n) < 0.85")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE members AS
        SELECT s.identity_id, s.chat_id, s.t AS joined, c.customer_id, c.first_s + c.span AS until
        FROM stays s JOIN idents i ON i.id = s.identity_id JOIN cust c ON c.customer_id = i.customer_id""")
    _insert(con, "SELECT least(joined + CAST(floor(u(identity_id, 40, n) * greatest(until - joined, 3600)) AS BIGINT), "
                 "until), 'message_received', 'wecom', identity_id, to_json(struct_pack(chat_id := chat_id, "
                 "msg_type := 'text')), identity_id, 300 + n "
                 "FROM (SELECT *, unnest(range(exp_n(u(identity_id, 41, joined), 3, 80))) AS n FROM members)")
    _insert(con, f"SELECT ((joined + {SHANGHAI}) // {DAY} + 1 + CAST(floor(u(identity_id, 43, joined) * 30) AS BIGINT) + j) "
                 f"* {DAY} + 25200 + CAST(floor(u(identity_id, 44, j) * 10800) AS BIGINT) - {SHANGHAI}, 'checked_in', "
                 f"'wecom', identity_id, to_json(struct_pack(activity_id := 'checkin-7d', chat_id := chat_id, "
                 f"day := j + 1)), identity_id, 400 + j "
                 f"FROM (SELECT *, unnest(range(1 + exp_n(u(identity_id, 45, joined), 2, 6))) AS j FROM members "
                 f"WHERE u(identity_id, 42, joined) < 0.25)")


def official_account(con: duckdb.DuckDBPyConnection) -> None:
    """A third of unionid holders follow the official account, then read, click and share articles."""
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE readers AS
        SELECT customer_id, union_id, first_s, span,
               first_s + CAST(floor(u(customer_id, 50, 0) * least(span, 10 * {DAY})) AS BIGINT) AS followed
        FROM cust WHERE union_id IS NOT NULL AND u(customer_id, 51, 0) < 0.35""")
    _insert(con, "SELECT followed, 'followed', 'official_account', union_id, to_json(struct_pack(source := "
                 "pick(['menu', 'article', 'qr_code'], u(customer_id, 52, 0)))), customer_id, 500 FROM readers")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE reads AS
        SELECT customer_id, union_id, n, place(followed, greatest(first_s + span - followed, 60), u(customer_id, 53, n),
               u(customer_id, 54, n), u(customer_id, 55, n), u(customer_id, 56, n)) AS t,
               content_at(u(customer_id, 57, n)) AS content_id, topic_at(u(customer_id, 57, n)) AS topic
        FROM (SELECT *, unnest(range(exp_n(u(customer_id, 58, 0), 2.5, 60))) AS n FROM readers)""")
    props = "to_json(struct_pack(content_id := content_id, topic := topic))"
    _insert(con, f"SELECT t, 'content_viewed', 'official_account', union_id, {props}, customer_id, 600 + n FROM reads")
    _insert(con, f"SELECT t + 30 + CAST(floor(u(customer_id, 59, n) * 270) AS BIGINT), 'content_clicked', "
                 f"'official_account', union_id, {props}, customer_id, 700 + n FROM reads WHERE u(customer_id, 60, n) < 0.2")
    _insert(con, f"SELECT t + 60 + CAST(floor(u(customer_id, 61, n) * 540) AS BIGINT), 'content_shared', "
                 f"'official_account', union_id, {props}, customer_id, 800 + n FROM reads WHERE u(customer_id, 62, n) < 0.05")


def session_scale(con: duckdb.DuckDBPyConnection, needed: int) -> float:
    """Return the sessions-per-order factor that gives about ``needed`` browsing events (slightly more)."""
    if needed <= 0:
        return 0.0
    lo, hi = 0.0, 64.0
    for _ in range(30):  # bisection on the exact session count the draws give
        mid = (lo + hi) / 2
        sessions = con.execute(f"SELECT coalesce(sum(exp_n(u(customer_id, 80, 0), {mid} * (1 + n_orders), 400)), 0) "
                               "FROM cust WHERE mini_id IS NOT NULL AND first_s < history_end() - 3600").fetchone()[0]
        lo, hi = (mid, hi) if sessions * SESSION_EVENTS < needed * 1.02 else (lo, mid)
    return hi


def sessions(con: duckdb.DuckDBPyConnection, scale: float, needed: int) -> None:
    """Browsing sessions in the mini program that end without an order, trimmed to ``needed`` events."""
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE sess AS
        SELECT customer_id, mini_id, n, hash({scale}, customer_id, n) AS rank_key,
               least(place(first_s, span, u(customer_id, 81, n), u(customer_id, 82, n), u(customer_id, 83, n),
                           u(customer_id, 84, n)), history_end() - 900) AS t,  -- the session ends in the history
               CAST(floor(u(customer_id, 85, n) * 3) AS BIGINT) AS pages,
               CAST(floor(u(customer_id, 86, n) * 3) AS BIGINT) AS products,
               u(customer_id, 87, n) < 0.3 AS cart, u(customer_id, 88, n) < 0.08 AS coupon,
               u(customer_id, 89, n) < 0.25 AS content
        FROM (SELECT *, unnest(range(exp_n(u(customer_id, 80, 0), {scale} * (1 + n_orders), 400))) AS n FROM cust
              WHERE mini_id IS NOT NULL AND first_s < history_end() - 3600);
        CREATE OR REPLACE TEMP TABLE kept AS
        SELECT * FROM (
            SELECT *, sum(size) OVER (ORDER BY rank_key, customer_id, n) AS running FROM (
                SELECT *, 1 + pages + products + CAST(cart AND products > 0 AS INT) + CAST(coupon AS INT)
                          + CAST(content AS INT) AS size FROM sess))
        WHERE running - size < {needed}""")  # the last session kept may be cut short: see below
    key = "-1 - (customer_id * 1000 + n)"  # negative: no other kind of event uses such keys
    _insert(con, f"SELECT t, 'mini_program_opened', 'mini_program', mini_id, to_json(struct_pack(scene := "
                 f"pick({_list(SCENES)}, u(customer_id, 90, n)))), {key}, 0 FROM kept")
    _insert(con, f"SELECT t + 20 + p * 45 + CAST(floor(u(customer_id, 91, n * 10 + p) * 30) AS BIGINT), 'page_viewed', "
                 f"'mini_program', mini_id, to_json(struct_pack(page := pick({_list(PAGES)}, u(customer_id, 92, n * 10 + p)))), "
                 f"{key}, 1 + p FROM (SELECT *, unnest(range(pages)) AS p FROM kept)")
    view = "t + 20 + pages * 45 + q * 60 + CAST(floor(u(customer_id, 93, n * 10 + q) * 40) AS BIGINT)"
    _insert(con, f"SELECT {view}, 'product_viewed', 'mini_program', mini_id, to_json(struct_pack("
                 f"sku := sku_at(u(customer_id, 94, n * 10 + q)), category := category_at(u(customer_id, 94, n * 10 + q)))), "
                 f"{key}, 10 + q FROM (SELECT *, unnest(range(products)) AS q FROM kept)")
    _insert(con, f"SELECT t + 20 + pages * 45 + products * 60 + 45, 'cart_added', 'mini_program', mini_id, "
                 f"to_json(struct_pack(sku := sku_at(u(customer_id, 94, n * 10 + products - 1)), quantity := 1)), {key}, 20 "
                 f"FROM kept WHERE cart AND products > 0")
    _insert(con, f"SELECT t + 15, 'coupon_claimed', 'mini_program', mini_id, to_json(struct_pack(coupon_id := "
                 f"pick({_list(COUPONS)}, u(customer_id, 95, n)))), {key}, 30 FROM kept WHERE coupon")
    _insert(con, f"SELECT t + 10, 'content_viewed', 'mini_program', mini_id, to_json(struct_pack(content_id := "
                 f"content_at(u(customer_id, 96, n)), topic := topic_at(u(customer_id, 96, n)))), {key}, 40 "
                 f"FROM kept WHERE content")
    # the session that crosses the total loses its last events, so the store holds exactly the total asked
    con.execute(f"""
        DELETE FROM gen WHERE (k1, k2) IN (
            SELECT g.k1, g.k2 FROM gen g JOIN (SELECT {key} AS k1, running - {needed} AS excess FROM kept
                                               WHERE running > {needed}) x ON g.k1 = x.k1
            QUALIFY row_number() OVER (ORDER BY g.k2 DESC) <= max(x.excess) OVER ())""")
