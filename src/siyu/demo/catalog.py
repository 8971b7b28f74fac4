"""Static content of the simulated brand 「山茶集」: a tea-drink and snack brand with stores and e-commerce.

High purchase frequency, online and offline (the literature's "high/online + stores" quadrant), so
repeat purchase, churn and private-domain reach all show. Prices are yuan (Decimal).
"""

from __future__ import annotations

from decimal import Decimal

BRAND = "山茶集"
MINI_APPID = "wxminishancha"  # identity kind openid:<appid> of the mini program
OA_APPID = "wxoashancha"  # the official account

SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
            "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
GIVEN_FEMALE = "婷静敏燕艳娟霞丽芳娜秀英慧琳雪颖倩洁佳欣怡梦雅晶悦蕾璐瑶琪涵萱妍诗语"
GIVEN_MALE = "伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯健俊帆翔晨阳博文轩然宁泽昊"
GIVEN_ANY = "子一思嘉雨晓天安文佳欣宇家梓皓"

# (region, city, weight): where the brand's customers live.
CITIES = (
    ("华东", "上海", 14), ("华东", "杭州", 9), ("华东", "南京", 7), ("华东", "苏州", 6), ("华东", "宁波", 3),
    ("华南", "广州", 8), ("华南", "深圳", 9), ("华南", "厦门", 3), ("华北", "北京", 11), ("华北", "天津", 3),
    ("西南", "成都", 7), ("西南", "重庆", 5), ("华中", "武汉", 6), ("华中", "长沙", 4), ("西北", "西安", 4),
    ("东北", "沈阳", 2),
)

# (code, name, city): the brand's stores.
STORES = (
    ("S01", "上海静安嘉里中心店", "上海"), ("S02", "上海徐汇港汇店", "上海"), ("S03", "杭州湖滨银泰店", "杭州"),
    ("S04", "北京三里屯太古里店", "北京"), ("S05", "广州天河正佳店", "广州"), ("S06", "深圳万象天地店", "深圳"),
    ("S07", "成都太古里店", "成都"), ("S08", "南京德基广场店", "南京"),
)

# Public-platform sources: (platform, weight, purchase channel or None when orders come later elsewhere).
SOURCES = (
    ("douyin", 22, "douyin"), ("xiaohongshu", 14, None), ("taobao", 14, "taobao"), ("meituan", 10, "meituan"),
    ("weibo", 5, None), ("bilibili", 5, None), ("store", 18, "store"), ("poster", 6, None), ("parcel", 6, None),
)

# Channel codes per platform: (platform, name, strategy, tags).
CODES = (
    ("douyin", "抖音直播间福利码", "round_robin", ("来源-抖音", "直播粉")),
    ("douyin", "抖音短视频评论区码", "weighted", ("来源-抖音",)),
    ("xiaohongshu", "小红书笔记私信码", "least_loaded", ("来源-小红书", "种草")),
    ("taobao", "淘宝包裹卡加微码", "round_robin", ("来源-淘宝",)),
    ("meituan", "美团外卖包裹卡码", "round_robin", ("来源-美团", "外卖")),
    ("weibo", "微博话题活动码", "fixed", ("来源-微博",)),
    ("bilibili", "B站UP主合作码", "fixed", ("来源-B站",)),
    ("poster", "地铁海报活动码", "weighted", ("来源-海报",)),
    ("parcel", "电商包裹卡码", "least_loaded", ("来源-包裹卡",)),
)

WELCOME = "你好{customer_name}，我是{BRAND}的{staff_name}～新人券已放进你的卡包，点小程序即可使用。".replace("{BRAND}", BRAND)

# (sku, name, category, price yuan): the menu and the shop.
PRODUCTS = (
    ("T001", "山茶乌龙鲜奶茶", "奶茶", Decimal("19.00")), ("T002", "茉莉雪芽轻乳茶", "奶茶", Decimal("18.00")),
    ("T003", "桂花酒酿奶茶", "奶茶", Decimal("21.00")), ("T004", "生椰拿铁", "咖啡", Decimal("22.00")),
    ("T005", "冷萃美式", "咖啡", Decimal("16.00")), ("T006", "多肉葡萄", "果茶", Decimal("24.00")),
    ("T007", "满杯红柚", "果茶", Decimal("20.00")), ("T008", "柠檬绿妍", "果茶", Decimal("14.00")),
    ("B001", "手撕面包", "烘焙", Decimal("12.80")), ("B002", "抹茶麻薯欧包", "烘焙", Decimal("15.80")),
    ("B003", "芋泥肉松小贝", "烘焙", Decimal("9.90")), ("S001", "冻干乌龙茶包 20袋", "茶叶", Decimal("59.00")),
    ("S002", "茉莉花茶礼盒", "茶叶", Decimal("128.00")), ("S003", "冷泡茶随行装 12袋", "茶叶", Decimal("39.90")),
    ("M001", "山茶集保温杯", "周边", Decimal("89.00")), ("M002", "联名帆布袋", "周边", Decimal("49.00")),
    ("G001", "中秋茶点礼盒", "礼盒", Decimal("198.00")), ("G002", "年货坚果茶礼", "礼盒", Decimal("268.00")),
)
DRINKS = tuple(p for p in PRODUCTS if p[2] in ("奶茶", "咖啡", "果茶", "烘焙"))
GOODS = tuple(p for p in PRODUCTS if p[2] not in ("奶茶", "咖啡", "果茶", "烘焙"))
# the same, priced in fen (integers): the simulation never does Decimal arithmetic per order line
DRINKS_FEN = tuple((sku, name, category, int(price * 100)) for sku, name, category, price in DRINKS)
GOODS_FEN = tuple((sku, name, category, int(price * 100)) for sku, name, category, price in GOODS)

# Content the brand publishes: (content_id, title, topic).
CONTENT = (
    ("c101", "秋冬第一杯桂花酒酿上新", "新品"), ("c102", "三分钟看懂冷泡茶", "茶知识"), ("c103", "门店打卡攻略", "门店"),
    ("c104", "会员日双倍积分", "会员"), ("c105", "低卡果茶怎么点", "健康"), ("c106", "联名周边开箱", "周边"),
    ("c107", "中秋礼盒送长辈", "礼盒"), ("c108", "咖啡豆产地故事", "咖啡"), ("c109", "办公室下午茶拼单", "拼单"),
    ("c110", "山茶乌龙的制茶工艺", "茶知识"),
)

GROUPS = (
    ("wrGRP0001", "山茶集·上海福利群1"), ("wrGRP0002", "山茶集·上海福利群2"), ("wrGRP0003", "山茶集·杭州会员群"),
    ("wrGRP0004", "山茶集·北京拼单群"), ("wrGRP0005", "山茶集·广深福利群"), ("wrGRP0006", "山茶集·成都吃货群"),
    ("wrGRP0007", "山茶集·新品试饮团"), ("wrGRP0008", "山茶集·茶叶爱好者"),
)

DEPARTMENTS = ("门店", "线上客服", "社群运营")
