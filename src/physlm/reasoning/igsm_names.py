"""The iGSM world: four hierarchies of four category layers, each category's items in five sub-categories.

A problem picks one hierarchy, two to four consecutive layers of it, one sub-category per layer and a
few items of each (Part 2.1). The paper's world has about 100 items per category (20 per
sub-category); this one has 25 (5 per sub-category), written by hand so that every item is a real
English name, no name is used twice, and the word-level vocabulary stays a few hundred words (what a
CPU-scale model can afford). No name contains "'s", a comma, " and " or a period, so the problem's
sentences parse back unambiguously (physlm.reasoning.checker relies on it).
"""

from __future__ import annotations

# hierarchy -> [(category, [sub-category items, ...]) for each layer, top to bottom]
HIERARCHIES: dict[str, list[tuple[str, list[list[str]]]]] = {
    "zoo": [
        (
            "Zoo",
            [
                ["Riverside Zoo", "Hilltop Zoo", "Lakeside Zoo", "Sunset Zoo", "Pinewood Zoo"],
                ["Harbor Zoo", "Meadow Zoo", "Canyon Zoo", "Prairie Zoo", "Valley Zoo"],
                ["City Zoo", "Coastal Zoo", "Forest Zoo", "Desert Zoo", "Island Zoo"],
                ["Royal Zoo", "National Zoo", "County Zoo", "Metro Zoo", "Union Zoo"],
                ["North Zoo", "South Zoo", "East Zoo", "West Zoo", "Central Zoo"],
            ],
        ),
        (
            "Enclosure",
            [
                ["Penguin Beach", "Lion Rock", "Monkey Island", "Bear Den", "Reptile House"],
                ["Bird Aviary", "Otter Creek", "Elephant Yard", "Giraffe Plain", "Wolf Wood"],
                ["Tiger Trail", "Seal Pool", "Gorilla Grove", "Koala Corner", "Hippo Lagoon"],
                ["Butterfly Dome", "Insect House", "Aquarium Hall", "Night House", "Panda Garden"],
                ["Savanna Field", "Rainforest Dome", "Polar Zone", "Farm Barn", "Camel Dune"],
            ],
        ),
        (
            "Animal",
            [
                ["Lion", "Tiger", "Leopard", "Cheetah", "Jaguar"],
                ["Eagle", "Parrot", "Owl", "Flamingo", "Pelican"],
                ["Crocodile", "Python", "Iguana", "Tortoise", "Cobra"],
                ["Zebra", "Antelope", "Buffalo", "Gazelle", "Moose"],
                ["Dolphin", "Walrus", "Beaver", "Raccoon", "Badger"],
            ],
        ),
        (
            "Bone",
            [
                ["Skull", "Jaw", "Rib", "Spine", "Pelvis"],
                ["Femur", "Tibia", "Fibula", "Patella", "Humerus"],
                ["Radius", "Ulna", "Clavicle", "Scapula", "Sternum"],
                ["Vertebra", "Sacrum", "Coccyx", "Mandible", "Maxilla"],
                ["Carpal", "Tarsal", "Phalanx", "Metacarpal", "Metatarsal"],
            ],
        ),
    ],
    "school": [
        (
            "School",
            [
                ["Oakwood High", "Maple High", "Cedar High", "Birch High", "Willow High"],
                [
                    "Lincoln Elementary",
                    "Jefferson Elementary",
                    "Adams Elementary",
                    "Madison Elementary",
                    "Monroe Elementary",
                ],
                [
                    "Riverdale Academy",
                    "Brookside Academy",
                    "Fairview Academy",
                    "Greenfield Academy",
                    "Westwood Academy",
                ],
                ["Summit Middle", "Valley Middle", "Ridge Middle", "Harbor Middle", "Park Middle"],
                [
                    "Central College",
                    "Eastside College",
                    "Northgate College",
                    "Southgate College",
                    "Midtown College",
                ],
            ],
        ),
        (
            "Classroom",
            [
                ["Art Room", "Music Room", "Science Lab", "Computer Lab", "Reading Room"],
                ["Math Class", "History Class", "Biology Class", "Chemistry Class", "Physics Class"],
                ["Dance Studio", "Film Studio", "Drama Hall", "Craft Shop", "Pottery Studio"],
                ["Gym Hall", "Library Hall", "Language Lab", "Robotics Lab", "Study Hall"],
                ["Band Room", "Choir Room", "Chess Room", "Debate Room", "Media Room"],
            ],
        ),
        (
            "Backpack",
            [
                ["School Daypack", "Hiking Daypack", "Canvas Daypack", "Leather Daypack", "Nylon Daypack"],
                [
                    "Rolling Backpack",
                    "Laptop Backpack",
                    "Sling Backpack",
                    "Mini Backpack",
                    "Drawstring Backpack",
                ],
                ["Messenger Bag", "Tote Bag", "Duffel Bag", "Gym Bag", "Book Bag"],
                ["Camera Pack", "Hydration Pack", "Trail Pack", "Travel Pack", "Frame Pack"],
                ["Lunch Satchel", "Canvas Satchel", "Leather Satchel", "Student Satchel", "Vintage Satchel"],
            ],
        ),
        (
            "Stationery",
            [
                ["Pencil", "Eraser", "Ruler", "Sharpener", "Marker"],
                ["Notebook", "Folder", "Binder", "Planner", "Journal"],
                ["Stapler", "Scissors", "Glue Stick", "Tape", "Paper Clip"],
                ["Crayon", "Highlighter", "Fountain Pen", "Ballpoint Pen", "Chalk"],
                ["Compass", "Protractor", "Calculator", "Index Card", "Sticky Note"],
            ],
        ),
    ],
    "ecosystem": [
        (
            "Ecosystem",
            [
                ["Coral Reef", "Kelp Forest", "Mangrove Swamp", "Tidal Pool", "Deep Ocean"],
                ["Tropical Rainforest", "Boreal Forest", "Temperate Forest", "Cloud Forest", "Bamboo Forest"],
                ["Arctic Tundra", "Alpine Meadow", "Grassland Steppe", "Dry Savanna", "Sand Desert"],
                ["Freshwater Lake", "Mountain River", "Peat Bog", "Salt Marsh", "Estuary Delta"],
                ["Volcanic Island", "Limestone Cave", "Rocky Shore", "Glacier Valley", "Oak Woodland"],
            ],
        ),
        (
            "Creature",
            [
                ["Sea Turtle", "Clownfish", "Octopus", "Jellyfish", "Starfish"],
                ["Tree Frog", "Howler Monkey", "Sloth", "Toucan", "Anteater"],
                ["Arctic Fox", "Snowy Owl", "Musk Ox", "Lemming", "Caribou"],
                ["River Otter", "Trout", "Heron", "Newt", "Crayfish"],
                ["Bat", "Cave Spider", "Salamander", "Gecko", "Hermit Crab"],
            ],
        ),
        (
            "Organ",
            [
                ["Heart", "Lung", "Liver", "Kidney", "Stomach"],
                ["Brain", "Eye", "Ear", "Tongue", "Nose"],
                ["Gill", "Fin", "Scale", "Shell", "Tentacle"],
                ["Spleen", "Pancreas", "Bladder", "Intestine", "Gallbladder"],
                ["Skin", "Muscle", "Tendon", "Gland", "Artery"],
            ],
        ),
        (
            "Cell",
            [
                ["Red Blood Cell", "White Blood Cell", "Platelet", "Plasma Cell", "Stem Cell"],
                ["Neuron", "Glial Cell", "Rod Cell", "Cone Cell", "Hair Cell"],
                ["Muscle Fiber", "Fat Cell", "Bone Cell", "Skin Cell", "Liver Cell"],
                ["Egg Cell", "Sperm Cell", "Germ Cell", "Mast Cell", "Killer Cell"],
                ["Goblet Cell", "Basal Cell", "Beta Cell", "Alpha Cell", "Gamma Cell"],
            ],
        ),
    ],
    "city": [
        (
            "City",
            [
                ["Springfield", "Riverton", "Lakewood", "Fairmont", "Brookhaven"],
                ["Ashford", "Clayton", "Dunmore", "Easton", "Franklin"],
                ["Glendale", "Hartwell", "Kingston", "Lexington", "Milford"],
                ["Newport", "Oakridge", "Preston", "Quincy", "Rockport"],
                ["Salem", "Trenton", "Vernon", "Weston", "Yorktown"],
            ],
        ),
        (
            "Market",
            [
                ["Grand Mall", "Plaza Mall", "Galleria Mall", "Outlet Mall", "Town Mall"],
                ["Main Market", "Farmers Market", "Night Market", "Flea Market", "Fish Market"],
                ["Union Arcade", "Royal Arcade", "Crystal Arcade", "Victoria Arcade", "Empire Arcade"],
                ["Harbor Square", "Market Square", "Station Square", "Garden Square", "Festival Square"],
                ["East Bazaar", "Spice Bazaar", "Silk Bazaar", "Old Bazaar", "Street Bazaar"],
            ],
        ),
        (
            "Store",
            [
                ["Bakery", "Butcher", "Grocery", "Deli", "Creamery"],
                ["Bookstore", "Toy Store", "Shoe Store", "Hat Store", "Gift Shop"],
                ["Pharmacy", "Florist", "Jeweler", "Optician", "Barber"],
                ["Hardware Store", "Paint Store", "Garden Center", "Tool Shop", "Lumber Yard"],
                ["Cafe", "Tea House", "Juice Bar", "Pizzeria", "Noodle Shop"],
            ],
        ),
        (
            "Product",
            [
                ["Bread Loaf", "Bagel", "Croissant", "Muffin", "Donut"],
                ["Apple", "Banana", "Orange", "Mango", "Peach"],
                ["Cheese Wheel", "Milk Carton", "Butter Stick", "Yogurt Cup", "Egg Carton"],
                ["Candle", "Soap Bar", "Towel", "Lamp", "Vase"],
                ["Hammer", "Wrench", "Screwdriver", "Drill", "Saw"],
            ],
        ),
    ],
}

N_LAYERS = 4
NAMES_PER_SUBCATEGORY = 5

# Item or category name -> (hierarchy, layer): what the checker needs to evaluate abstract parameters.
LAYER_OF: dict[str, tuple[str, int]] = {
    name: (hierarchy, layer)
    for hierarchy, layers in HIERARCHIES.items()
    for layer, (category, subcategories) in enumerate(layers)
    for name in [category, *(item for sub in subcategories for item in sub)]
}
CATEGORIES: set[str] = {category for layers in HIERARCHIES.values() for category, _ in layers}
