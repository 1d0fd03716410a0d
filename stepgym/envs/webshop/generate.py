"""A deterministic synthetic WebShop catalog and human-style goals, in WebShop's own file schema.

`generate(num_products, num_goals, seed)` returns the three records WebShop reads
(`items_shuffle.json`, `items_ins_v2.json`, `items_human_ins.json`), so the shipped data and a
user's original download go through the same loader. Products come from per-category
templates: a brand, a product type with its Amazon-like category path and search query,
attributes drawn from the category's pool, options (colour, size, flavour, ...), a price
range, a description, bullet points and reviews. Goals name a product type, some of its
attributes and one value per option, in a handful of phrasings, as WebShop's crowd workers did.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

_COLORS = ["black", "white", "navy blue", "grey", "heather grey", "red", "wine red", "pink",
           "light blue", "royal blue", "green", "army green", "khaki", "beige", "brown", "purple",
           "yellow", "orange", "olive", "burgundy", "teal", "coral", "ivory", "multicolor"]
_APPAREL_SIZES = ["x-small", "small", "medium", "large", "x-large", "xx-large", "3x-large"]
_SHOE_SIZES = ["6", "6.5", "7", "7.5", "8", "8.5", "9", "9.5", "10", "10.5", "11", "12"]


@dataclass(frozen=True)
class Category:
    """One top-level category: product types, attribute pool, option pools and a price range."""

    category: str                    # WebShop's coarse `category` field
    root: str                        # first part(s) of the `product_category` path
    types: tuple[tuple[str, str], ...]  # (product type noun phrase, sub-path after root)
    attributes: tuple[str, ...]
    options: dict[str, list[str]]
    adjectives: tuple[str, ...]
    price: tuple[float, float]
    audience: tuple[str, ...] = ("",)


CATEGORIES: tuple[Category, ...] = (
    Category("fashion", "Clothing, Shoes & Jewelry › Women › Clothing", (
        ("t-shirt", "Tops, Tees & Blouses › T-Shirts"), ("blouse", "Tops, Tees & Blouses › Blouses"),
        ("dress", "Dresses › Casual"), ("leggings", "Active › Leggings"), ("cardigan", "Sweaters › Cardigans"),
        ("jumpsuit", "Jumpsuits, Rompers & Overalls"), ("skirt", "Skirts"), ("pajama set", "Lingerie, Sleep & Lounge › Sleep")),
        ("machine wash", "hand wash", "long sleeve", "short sleeve", "button closure", "elastic waist",
         "cotton spandex", "polyester spandex", "relaxed fit", "slim fit", "high waist", "loose fit",
         "soft material", "daily wear", "quick drying", "tummy control", "v-neck", "crew neck"),
        {"color": _COLORS, "size": _APPAREL_SIZES},
        ("casual", "floral", "striped", "solid", "oversized", "ribbed", "lightweight", "vintage", "summer", "winter"),
        (9.99, 49.99), ("women's",)),
    Category("fashion", "Clothing, Shoes & Jewelry › Men › Clothing", (
        ("polo shirt", "Shirts › Polos"), ("dress shirt", "Shirts › Dress Shirts"), ("hoodie", "Fashion Hoodies & Sweatshirts"),
        ("cargo shorts", "Shorts › Cargo"), ("jeans", "Jeans"), ("jogger pants", "Pants › Sweatpants"),
        ("rain jacket", "Jackets & Coats › Rain Jackets"), ("boxer briefs", "Underwear › Boxer Briefs")),
        ("machine wash", "button closure", "drawstring closure", "zipper closure", "long sleeve", "short sleeve",
         "regular fit", "slim fit", "relaxed fit", "moisture wicking", "cotton blend", "stretch fabric",
         "quick drying", "water resistant", "wrinkle free", "elastic waistband", "tumble dry"),
        {"color": _COLORS, "size": _APPAREL_SIZES},
        ("classic", "athletic", "casual", "heavyweight", "stretch", "performance", "everyday", "tactical"),
        (12.99, 69.99), ("men's",)),
    Category("fashion", "Clothing, Shoes & Jewelry › Shoes", (
        ("running shoes", "Athletic › Running"), ("sneakers", "Fashion Sneakers"), ("sandals", "Sandals"),
        ("hiking boots", "Outdoor › Hiking Boots"), ("slippers", "Slippers"), ("loafers", "Loafers & Slip-Ons"),
        ("ankle boots", "Boots › Ankle & Bootie")),
        ("rubber sole", "non slip", "memory foam", "arch support", "lace up", "slip on", "breathable mesh",
         "lightweight", "waterproof", "cushioned insole", "wide width", "leather upper", "anti slip"),
        {"color": _COLORS, "size": _SHOE_SIZES},
        ("walking", "comfort", "trail", "casual", "classic", "knit", "platform", "outdoor"),
        (19.99, 99.99), ("women's", "men's")),
    Category("beauty", "Beauty & Personal Care › Skin Care", (
        ("face moisturizer", "Face › Moisturizers"), ("eye cream", "Eyes › Creams"), ("face serum", "Face › Serums"),
        ("sunscreen", "Sunscreens & Tanning › Sunscreens"), ("facial cleanser", "Face › Cleansers"),
        ("body lotion", "Body › Moisturizers › Lotions"), ("lip balm", "Lip Care › Balms & Moisturizers")),
        ("paraben free", "cruelty free", "fragrance free", "hyaluronic acid", "vitamin c", "dry skin",
         "sensitive skin", "oily skin", "natural ingredients", "anti aging", "long lasting", "travel size",
         "dermatologist tested", "non greasy", "fine lines", "dark circles", "easy to use"),
        {"size": ["1 fl oz", "1.7 fl oz", "2 fl oz", "3.4 fl oz", "6.7 fl oz", "8 fl oz"],
         "scent": ["unscented", "lavender", "coconut", "rose", "citrus", "cucumber", "vanilla"]},
        ("hydrating", "daily", "gentle", "brightening", "firming", "soothing", "nourishing", "overnight"),
        (7.99, 45.99)),
    Category("beauty", "Beauty & Personal Care › Hair Care", (
        ("shampoo", "Shampoo & Conditioner › Shampoos"), ("conditioner", "Shampoo & Conditioner › Conditioners"),
        ("hair oil", "Hair & Scalp Treatments › Oils"), ("hair extensions", "Hair Extensions, Wigs & Accessories › Extensions"),
        ("wig", "Hair Extensions, Wigs & Accessories › Wigs"), ("hair dryer", "Styling Tools › Hair Dryers")),
        ("sulfate free", "paraben free", "natural hair", "dry hair", "damaged hair", "hair growth",
         "hair loss", "curly hair", "long lasting", "easy to use", "high quality", "heat protection", "argan oil"),
        {"color": ["natural black", "dark brown", "light brown", "blonde", "ombre", "burgundy"],
         "size": ["8 fl oz", "12 fl oz", "16 fl oz", "18 inch", "22 inch", "26 inch"]},
        ("moisturizing", "volumizing", "repairing", "clarifying", "silky", "salon", "professional"),
        (8.99, 59.99)),
    Category("beauty", "Beauty & Personal Care › Makeup", (
        ("lipstick", "Lips › Lipstick"), ("foundation", "Face › Foundation"), ("mascara", "Eyes › Mascara"),
        ("eyeshadow palette", "Eyes › Eyeshadow"), ("nail polish", "Nails › Nail Polish"), ("makeup brush set", "Makeup Brushes & Tools › Brush Sets")),
        ("long lasting", "cruelty free", "highly pigmented", "waterproof", "easy to apply", "travel size",
         "vegan", "matte finish", "sensitive skin", "natural look", "high quality", "easy carry"),
        {"color": ["nude", "red", "pink", "coral", "berry", "mauve", "plum", "ivory", "beige", "natural"],
         "size": ["0.1 ounce", "0.5 ounce", "1 ounce", "pack of 2", "pack of 3"]},
        ("matte", "liquid", "velvet", "glossy", "shimmer", "full coverage", "sheer", "ultra"),
        (5.99, 39.99)),
    Category("electronics", "Electronics › Computers & Accessories", (
        ("wireless mouse", "Computer Accessories & Peripherals › Keyboards, Mice & Accessories › Mice"),
        ("mechanical keyboard", "Computer Accessories & Peripherals › Keyboards, Mice & Accessories › Keyboards"),
        ("laptop stand", "Laptop Accessories › Stands"), ("usb c hub", "Computer Accessories & Peripherals › USB Hubs"),
        ("external hard drive", "Data Storage › External Hard Drives"), ("webcam", "Computer Accessories & Peripherals › Webcams"),
        ("monitor", "Monitors")),
        ("plug and play", "usb port", "high speed", "easy install", "compact size", "ergonomic design",
         "noise cancelling", "long battery life", "fast charging", "aluminum alloy", "high definition",
         "led light", "bluetooth connectivity", "easy carry", "heavy duty"),
        {"color": ["black", "white", "silver", "space grey", "rose gold", "blue"],
         "style": ["standard", "pro", "with cable", "with case", "bundle"]},
        ("portable", "slim", "gaming", "ultra thin", "rechargeable", "silent", "4k", "dual"),
        (14.99, 199.99)),
    Category("electronics", "Electronics › Headphones, Earbuds & Accessories", (
        ("wireless earbuds", "Headphones & Earbuds › Earbud Headphones"), ("over ear headphones", "Headphones & Earbuds › Over-Ear Headphones"),
        ("bluetooth speaker", "Portable Audio & Video › Portable Speakers"), ("phone case", "Cell Phone Accessories › Cases"),
        ("charging cable", "Cell Phone Accessories › Cables"), ("power bank", "Cell Phone Accessories › Portable Power Banks"),
        ("smart watch band", "Wearable Technology › Smartwatch Bands")),
        ("noise cancelling", "long battery life", "fast charging", "water resistant", "hands free",
         "high definition", "stereo sound", "easy carry", "usb c", "wireless charging", "heavy duty",
         "shock absorbing", "quick release", "bluetooth 5.0"),
        {"color": ["black", "white", "navy blue", "pink", "green", "purple", "clear"],
         "size": ["small", "large", "3 ft", "6 ft", "10 ft", "10000mah", "20000mah"]},
        ("premium", "sport", "mini", "waterproof", "magnetic", "ultra slim", "braided"),
        (9.99, 129.99)),
    Category("furniture", "Home & Kitchen › Furniture", (
        ("office chair", "Home Office Furniture › Chairs"), ("bookshelf", "Living Room Furniture › Bookcases"),
        ("nightstand", "Bedroom Furniture › Nightstands"), ("coffee table", "Living Room Furniture › Tables › Coffee Tables"),
        ("bar stool", "Kitchen & Dining Room Furniture › Stools"), ("ottoman", "Living Room Furniture › Ottomans"),
        ("tv stand", "Living Room Furniture › Television Stands & Entertainment Centers")),
        ("easy assemble", "solid wood", "storage space", "living room", "high density", "metal frame",
         "lumbar support", "height adjustable", "mid century", "easy clean", "heavy duty", "faux leather",
         "engineered wood", "steel frame", "wood finish"),
        {"color": ["black", "white", "walnut", "espresso", "grey", "natural", "rustic brown"],
         "size": ["small", "medium", "large", "24 inch", "30 inch", "2 pack"]},
        ("modern", "rustic", "industrial", "farmhouse", "ergonomic", "tufted", "round", "upholstered"),
        (29.99, 299.99)),
    Category("furniture", "Home & Kitchen › Bedding", (
        ("sheet set", "Sheets & Pillowcases › Sheet & Pillowcase Sets"), ("comforter", "Comforters & Sets › Comforters"),
        ("throw blanket", "Blankets & Throws › Throws"), ("pillow", "Bed Pillows & Positioners › Bed Pillows"),
        ("mattress topper", "Mattress Pads & Toppers › Mattress Toppers"), ("duvet cover", "Duvet Covers & Sets › Duvet Covers")),
        ("machine washable", "easy care", "deep pocket", "memory foam", "cooling", "hypoallergenic",
         "soft touch", "queen size", "king size", "all season", "microfiber", "breathable cotton"),
        {"color": ["white", "grey", "navy blue", "beige", "sage green", "blush pink", "ivory"],
         "size": ["twin", "full", "queen", "king", "california king"]},
        ("luxury", "cozy", "plush", "quilted", "lightweight", "fluffy", "sherpa", "bamboo"),
        (19.99, 129.99)),
    Category("food", "Grocery & Gourmet Food › Snacks", (
        ("protein bars", "Snack Foods › Bars › Protein"), ("beef jerky", "Jerky & Dried Meats › Beef"),
        ("trail mix", "Snack Foods › Trail Mix"), ("potato chips", "Snack Foods › Chips & Crisps"),
        ("dark chocolate", "Candy & Chocolate › Chocolate"), ("granola", "Breakfast Foods › Cereals › Granola"),
        ("dried fruit", "Dried Fruits & Vegetables")),
        ("gluten free", "non gmo", "low carb", "keto friendly", "high protein", "sugar free", "low calorie",
         "plant based", "individually wrapped", "kosher certified", "dairy free", "natural ingredients",
         "ready to eat", "artificial colors"),
        {"flavor name": ["original", "chocolate", "peanut butter", "sea salt", "barbecue", "teriyaki",
                         "honey", "mixed berry", "cinnamon", "vanilla"],
         "size": ["1 ounce (pack of 12)", "2.5 ounce (pack of 6)", "8 ounce", "16 ounce", "24 count"]},
        ("crunchy", "organic", "classic", "gourmet", "spicy", "sweet", "roasted", "baked"),
        (4.99, 39.99)),
    Category("food", "Grocery & Gourmet Food › Beverages", (
        ("green tea", "Tea › Green"), ("coffee beans", "Coffee › Whole Coffee Beans"), ("ground coffee", "Coffee › Ground Coffee"),
        ("sparkling water", "Bottled Beverages, Water & Drink Mixes › Water"), ("energy drink", "Bottled Beverages, Water & Drink Mixes › Energy Drinks"),
        ("herbal tea", "Tea › Herbal")),
        ("caffeine free", "sugar free", "non gmo", "gluten free", "usda organic", "zero calorie",
         "fair trade", "low calorie", "natural flavors", "kosher certified", "individually wrapped"),
        {"flavor name": ["original", "lemon", "peach", "mint", "vanilla", "hazelnut", "mango", "berry"],
         "size": ["12 fl oz (pack of 12)", "16 ounce", "20 count", "100 count", "2 pound"]},
        ("organic", "medium roast", "dark roast", "decaf", "premium", "refreshing", "cold brew"),
        (5.99, 44.99)),
    Category("home", "Home & Kitchen › Kitchen & Dining", (
        ("blender", "Small Appliances › Blenders"), ("knife set", "Kitchen Utensils & Gadgets › Knives › Knife Block Sets"),
        ("frying pan", "Cookware › Pots & Pans › Skillets"), ("food storage containers", "Storage & Organization › Food Storage"),
        ("coffee maker", "Coffee, Tea & Espresso › Coffee Makers"), ("cutting board", "Kitchen Utensils & Gadgets › Cutting Boards"),
        ("water bottle", "Travel & To-Go Drinkware › Water Bottles")),
        ("dishwasher safe", "bpa free", "stainless steel", "non stick", "easy clean", "leak proof",
         "heat resistant", "food grade", "long lasting", "high quality", "easy use", "space saving",
         "double wall", "microwave safe"),
        {"color": ["black", "silver", "red", "white", "blue", "green", "stainless steel"],
         "size": ["small", "medium", "large", "10 inch", "12 inch", "32 oz", "set of 5"]},
        ("professional", "compact", "heavy duty", "insulated", "ceramic", "cast iron", "glass", "bamboo"),
        (9.99, 149.99)),
    Category("pets", "Pet Supplies › Dogs", (
        ("dog bed", "Beds & Furniture › Beds"), ("dog leash", "Collars, Harnesses & Leashes › Leashes"),
        ("dog harness", "Collars, Harnesses & Leashes › Harnesses"), ("chew toy", "Toys › Chew Toys"),
        ("dog treats", "Treats › Biscuits"), ("grooming brush", "Grooming › Brushes")),
        ("machine washable", "non slip", "easy clean", "heavy duty", "reflective", "adjustable",
         "grain free", "natural ingredients", "small breed", "large breed", "durable material", "orthopedic"),
        {"color": ["black", "grey", "blue", "pink", "red", "brown", "camo"],
         "size": ["small", "medium", "large", "x-large"]},
        ("calming", "orthopedic", "no pull", "tough", "soft", "interactive", "training"),
        (7.99, 79.99)),
    Category("sports", "Sports & Outdoors › Exercise & Fitness", (
        ("yoga mat", "Yoga › Mats"), ("resistance bands", "Strength Training Equipment › Resistance Bands"),
        ("dumbbells", "Strength Training Equipment › Dumbbells"), ("jump rope", "Cardio Training › Jump Ropes"),
        ("foam roller", "Accessories › Foam Rollers"), ("gym bag", "Accessories › Gym Bags")),
        ("non slip", "extra thick", "easy carry", "high density", "eco friendly", "heavy duty",
         "adjustable length", "sweat resistant", "carrying strap", "home gym", "anti tear", "quick adjust"),
        {"color": ["black", "purple", "blue", "pink", "green", "grey", "teal"],
         "size": ["light", "medium", "heavy", "5 lb", "10 lb", "20 lb", "72 inch"]},
        ("premium", "professional", "portable", "foldable", "weighted", "speed", "textured"),
        (9.99, 89.99)),
    Category("toys", "Toys & Games", (
        ("building blocks", "Building Toys › Building Sets"), ("jigsaw puzzle", "Puzzles › Jigsaw Puzzles"),
        ("board game", "Games › Board Games"), ("plush toy", "Stuffed Animals & Plush Toys › Plush Figures"),
        ("remote control car", "Hobbies › Remote & App Controlled Vehicles › Cars"), ("play kitchen", "Pretend Play › Kitchen Toys")),
        ("educational toy", "ages 3 and up", "ages 8 and up", "non toxic", "easy assemble", "birthday gift",
         "family game", "rechargeable battery", "soft material", "high quality", "stem learning"),
        {"color": ["multicolor", "pink", "blue", "green", "red", "yellow"],
         "size": ["small", "medium", "large", "500 pieces", "1000 pieces"]},
        ("classic", "creative", "interactive", "deluxe", "mini", "giant", "magnetic"),
        (9.99, 79.99)),
)

_BRAND_A = ["Kel", "Nuv", "Ard", "Bel", "Cor", "Dav", "Elo", "Fen", "Gal", "Har", "Ivo", "Jun", "Kor",
            "Lum", "Mar", "Nor", "Ost", "Pel", "Quin", "Ros", "Sol", "Tav", "Ul", "Ver", "Wyn", "Zan"]
_BRAND_B = ["ora", "exa", "ivo", "ence", "ino", "ara", "ello", "ix", "wood", "line", "crest", "field",
            "mark", "ley", "ton", "by", "eon", "ica", "ova", "ani"]
_REVIEW_TITLES = ["Great value", "Works as described", "Not what I expected", "Love it", "Okay for the price",
                  "Would buy again", "Good quality", "Disappointed", "Exactly what I needed", "Pretty good"]
_REVIEW_BODIES = ["Arrived quickly and does the job.", "The quality is better than I thought.",
                  "Sizing runs a little small.", "My family uses it every day.", "It stopped working after a month.",
                  "Looks just like the pictures.", "A bit pricey but worth it.", "Packaging was damaged but the item was fine."]


def _brand(rng: random.Random) -> str:
    return rng.choice(_BRAND_A) + rng.choice(_BRAND_B)


def _asin(rng: random.Random, used: set[str]) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    while True:
        asin = "B0" + "".join(rng.choices(alphabet, k=8))
        if asin not in used:
            used.add(asin)
            return asin


def _price_text(rng: random.Random, lo: float, hi: float) -> str:
    base = round(rng.uniform(lo, hi), 0) - 0.01
    if rng.random() < 0.25:  # some products list a range, like the originals ("$12.99 - $18.49")
        top = base + rng.choice([2.0, 4.0, 6.0, 10.0])
        return f"${base:.2f} - ${top:.2f}"
    return f"${base:.2f}"


def _product(rng: random.Random, cat: Category, ptype: tuple[str, str], used: set[str]) -> tuple[dict, dict]:
    type_name, sub_path = ptype
    audience = rng.choice(cat.audience)
    brand = _brand(rng)
    attrs = rng.sample(cat.attributes, rng.randint(3, 5))
    adj = rng.choice(cat.adjectives)
    extra = rng.choice(attrs)
    title_bits = [brand, audience, adj, type_name.title() if rng.random() < 0.5 else type_name,
                  "-", extra.title() if rng.random() < 0.5 else extra]
    if rng.random() < 0.4:
        title_bits += ["&", rng.choice(attrs)]
    title = " ".join(b for b in title_bits if b)
    options = {}
    for name, pool in cat.options.items():
        if rng.random() < 0.8:
            values = sorted(rng.sample(pool, rng.randint(2, min(6, len(pool)))), key=pool.index)
            options[name] = [{"value": v, "image": None} for v in values]
    description = (
        f"This {adj} {type_name} from {brand} is made for {rng.choice(['everyday use', 'busy days', 'gifting', 'travel', 'home'])}. "
        f"It is {attrs[0]} and {attrs[1]}, and every unit is checked before it ships. "
        f"{rng.choice(['Backed by a 30-day return policy.', 'Customer service answers within a day.', 'Ships in recyclable packaging.'])}"
    )
    bullets = [f"{a.upper() if rng.random() < 0.3 else a.capitalize()}: {rng.choice(['designed to last', 'tested by our team', 'loved by customers', 'a thoughtful detail'])}."
               for a in attrs[1:]]
    bullets.append(f"What you get: one {type_name} and a friendly customer service.")
    asin = _asin(rng, used)
    query = f"{audience} {type_name}".strip()
    item = {
        "asin": asin,
        "name": title,
        "full_description": description,
        "small_description": bullets,
        "pricing": _price_text(rng, *cat.price),
        "customization_options": options or {},
        "images": [f"/static/img/{cat.category}.svg"],
        "product_category": f"{cat.root} › {sub_path}",
        "category": cat.category,
        "query": query,
        "average_rating": round(rng.uniform(3.0, 5.0), 1),
        "reviews": [{"title": rng.choice(_REVIEW_TITLES), "score": rng.randint(1, 5), "body": rng.choice(_REVIEW_BODIES)}
                    for _ in range(rng.randint(0, 3))],
    }
    attr_record = {"attributes": attrs}
    return item, attr_record


_TEMPLATES = (
    "i am looking for {a} {type} that is {attrs}{opts}",
    "i need {a} {type} which is {attrs}{opts}",
    "i want to buy {a} {attrs} {type}{opts}",
    "find me {a} {attrs} {type}{opts}",
    "i'm looking for {a} {type} with {attrs}{opts}",
    "i would like {a} {type} that's {attrs}{opts}",
)


def _option_phrase(rng: random.Random, chosen: list[tuple[str, str]]) -> str:
    if not chosen:
        return ""
    parts = []
    for name, value in chosen:
        if name == "color":
            parts.append(rng.choice([f"in {value} color", f"{value} colored", f"color {value}"]))
        elif name == "size":
            parts.append(rng.choice([f"in size {value}", f"size {value}", f"in {value} size"]))
        else:
            parts.append(f"{name} {value}" if rng.random() < 0.5 else f"in {value} {name.split()[0]}")
    return ", " + " and ".join(parts)


def _goal(rng: random.Random, item: dict, attrs: list[str], type_name: str) -> dict:
    goal_attrs = rng.sample(attrs, rng.randint(1, min(3, len(attrs))))
    chosen = []
    for name, contents in item["customization_options"].items():
        if rng.random() < 0.85:
            chosen.append((name, rng.choice(contents)["value"]))
    ptype = (item["query"] if rng.random() < 0.6 else type_name)
    article = "" if ptype.endswith("s") else ("an" if ptype[0] in "aeiou" else "a")
    text = rng.choice(_TEMPLATES).format(
        a=article, type=ptype, attrs=" and ".join(goal_attrs), opts=_option_phrase(rng, chosen))
    text = " ".join(text.split())
    text = re.sub(r"\ba ([aeiou])", r"an \1", text)  # the article agrees with the word after it
    text = re.sub(r"\ban ([^aeiou])", r"a \1", text)
    return {
        "asin": item["asin"],
        "instruction": text,
        "instruction_attributes": goal_attrs,
        "instruction_options": [v for _, v in chosen],
    }


def generate(num_products: int = 5000, num_goals: int = 3000, seed: int = 0) -> dict[str, object]:
    """WebShop-schema records: `items_shuffle` (list), `items_ins_v2` and `items_human_ins` (dicts by asin)."""
    if num_products < len(CATEGORIES):
        raise ValueError(f"num_products must be at least {len(CATEGORIES)} (one per category), got {num_products}")
    rng = random.Random(seed)
    used: set[str] = set()
    items, attributes, types = [], {}, {}
    all_types = [(cat, t) for cat in CATEGORIES for t in cat.types]
    for i in range(num_products):
        cat, ptype = all_types[i % len(all_types)]
        item, attr_record = _product(rng, cat, ptype, used)
        items.append(item)
        attributes[item["asin"]] = attr_record
        types[item["asin"]] = ptype[0]
    rng.shuffle(items)  # like items_shuffle.json: categories interleaved
    human: dict[str, list[dict]] = {}
    candidates = rng.sample(items, min(num_goals, len(items)))
    while len(candidates) < num_goals:
        candidates.append(rng.choice(items))
    for item in candidates:
        goal = _goal(rng, item, attributes[item["asin"]]["attributes"], types[item["asin"]])
        human.setdefault(item["asin"], []).append(goal)
    return {"items_shuffle": items, "items_ins_v2": attributes, "items_human_ins": human}
